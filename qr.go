package sotto

import (
	"strings"

	"rsc.io/qr"
)

// QRCode returns text as a QR code drawn with Unicode half blocks ("▀", "▄",
// "█" and spaces), two QR rows per line, with the quiet zone the standard asks
// for. Light modules are drawn as blocks and dark ones as spaces, so the code
// reads on the usual light-on-dark terminal. A valid contact code is encoded in
// upper case (codes are case-insensitive, and QR's alphanumeric mode makes the
// symbol smaller). It returns "" if text is too long for any QR version.
func QRCode(text string) string {
	if CheckCode(text) == nil {
		text = strings.ToUpper(strings.TrimSpace(text))
	}
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return ""
	}
	const quiet = 2 // modules; 4 is the standard, 2 reads fine on screens and saves lines
	n := c.Size + 2*quiet
	light := func(x, y int) bool { return !c.Black(x-quiet, y-quiet) }
	var sb strings.Builder
	for y := 0; y < n; y += 2 {
		for x := 0; x < n; x++ {
			top := light(x, y)
			bot := y+1 < n && light(x, y+1)
			switch {
			case top && bot:
				sb.WriteString("█")
			case top:
				sb.WriteString("▀")
			case bot:
				sb.WriteString("▄")
			default:
				sb.WriteByte(' ')
			}
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}
