package sotto

import "golang.org/x/sys/unix"

// renameNoReplace renames from to to unless to exists (EEXIST), atomically.
func renameNoReplace(from, to string) error {
	return unix.RenamexNp(from, to, unix.RENAME_EXCL)
}
