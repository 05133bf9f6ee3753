package threatmodel

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
)

// Check verifies that every test a threat names exists as a top-level
// function in the named package directory under root (the module root). It
// returns one error listing every missing test, or nil.
func Check(root string, threats []Threat) error {
	funcs := map[string]map[string]bool{} // dir -> func names
	var missing []string
	for _, th := range threats {
		if len(th.Tests) == 0 {
			missing = append(missing, th.ID+" names no test")
			continue
		}
		for _, ref := range th.Tests {
			names, ok := funcs[ref.Dir]
			if !ok {
				var err error
				names, err = topLevelFuncs(filepath.Join(root, ref.path()))
				if err != nil {
					return fmt.Errorf("threatmodel: %s: %w", th.ID, err)
				}
				funcs[ref.Dir] = names
			}
			if !names[ref.Name] {
				missing = append(missing, fmt.Sprintf("%s names %s, which does not exist", th.ID, ref))
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("threatmodel: %d missing: %s", len(missing), strings.Join(missing, "; "))
	}
	return nil
}

// topLevelFuncs parses every .go file of one directory (tests included) and
// returns the names of its top-level functions.
func topLevelFuncs(dir string) (map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("package directory %s: %w", dir, err)
	}
	names := map[string]bool{}
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				names[fd.Name.Name] = true
			}
		}
	}
	return names, nil
}
