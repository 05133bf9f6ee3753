package scrub

import (
	"encoding/binary"
	"strings"
)

// EXIF is a TIFF structure: a byte-order mark, then chained directories
// (IFDs) of 12-byte entries, some of which point to further directories
// (the Exif, GPS and interoperability IFDs). Sotto only reads it to tell the
// user what it removed and to keep a photo's orientation; every offset is
// checked against the segment and each directory is visited once, so a
// hostile EXIF block costs at most a few thousand entry reads.

const (
	maxIFDEntries   = 1024 // entries read from one directory
	maxEXIFEntries  = 4096 // entries read in total
	maxIFDs         = 32   // directories visited
	tagOrientation  = 0x0112
	tagExifIFD      = 0x8769
	tagGPSIFD       = 0x8825
	tagInteropIFD   = 0xa005
	gpsLatitude     = 0x0002
	gpsLongitude    = 0x0004
	typeShort       = 3
	exifKindMain    = 0
	exifKindGPS     = 1
	exifKindThumb   = 2
	exifKindPointed = 3
)

// exifNames names the tags worth telling the user about, in report order.
var exifNames = []struct {
	tags []uint16
	name string
}{
	{[]uint16{0xa431, 0xc62f}, "camera serial number"},
	{[]uint16{0xa435}, "lens serial number"},
	{[]uint16{0xa430}, "owner name"},
	{[]uint16{0x013b, 0x9c9d}, "author"},
	{[]uint16{0x8298}, "copyright"},
	{[]uint16{0x010f, 0x0110}, "camera make and model"},
	{[]uint16{0xa433, 0xa434}, "lens make and model"},
	{[]uint16{0x0132, 0x9003, 0x9004}, "date and time"},
	{[]uint16{0x9010, 0x9011, 0x9012}, "time zone"},
	{[]uint16{0xa420}, "unique image ID"},
	{[]uint16{0x0131}, "software"},
	{[]uint16{0x927c}, "maker notes"},
	{[]uint16{0x010e, 0x9286, 0x9c9b, 0x9c9c, 0x9c9e, 0x9c9f}, "description and comments"},
	{[]uint16{0x02bc}, "XMP"},
	{[]uint16{0x83bb}, "IPTC"},
}

// exifInfo is what parseEXIF found.
type exifInfo struct {
	names       []string // what the block holds, by kind, for the report
	orientation uint16   // 1..8, or 0 if absent or invalid
}

// summary is the report line for the block.
func (x *exifInfo) summary() string {
	if len(x.names) == 0 {
		return "EXIF"
	}
	return "EXIF (" + strings.Join(x.names, ", ") + ")"
}

// parseEXIF reads a TIFF-structured EXIF block (what follows "Exif\0\0").
// It never fails: what it cannot read it does not report.
func parseEXIF(b []byte) exifInfo {
	var info exifInfo
	if len(b) < 8 {
		return info
	}
	var bo binary.ByteOrder
	switch string(b[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return info
	}
	seen := map[uint16]bool{}
	gps, gpsPos, thumb, other := false, false, false, false
	type dir struct {
		off  uint32
		kind int
	}
	queue := []dir{{bo.Uint32(b[4:]), exifKindMain}}
	visited := map[uint32]bool{}
	entries := 0
	for len(queue) > 0 && len(visited) < maxIFDs {
		d := queue[0]
		queue = queue[1:]
		if d.off == 0 || visited[d.off] || uint64(d.off)+2 > uint64(len(b)) {
			continue
		}
		visited[d.off] = true
		n := int(bo.Uint16(b[d.off:]))
		if n > maxIFDEntries {
			n = maxIFDEntries
		}
		p := int(d.off) + 2
		for i := 0; i < n && entries < maxEXIFEntries; i++ {
			if p+12 > len(b) {
				break
			}
			e := b[p : p+12]
			p += 12
			entries++
			tag, typ, val := bo.Uint16(e), bo.Uint16(e[2:]), bo.Uint32(e[8:])
			switch d.kind {
			case exifKindGPS:
				gps = true
				if tag == gpsLatitude || tag == gpsLongitude {
					gpsPos = true
				}
				continue
			case exifKindThumb:
				thumb = true
				continue
			}
			switch tag {
			case tagExifIFD, tagInteropIFD:
				queue = append(queue, dir{val, exifKindPointed})
			case tagGPSIFD:
				queue = append(queue, dir{val, exifKindGPS})
			case tagOrientation:
				if d.kind == exifKindMain && typ == typeShort && bo.Uint32(e[4:]) == 1 {
					if o := bo.Uint16(e[8:]); o >= 1 && o <= 8 {
						info.orientation = o
					}
				}
			default:
				seen[tag] = true
				other = true
			}
		}
		// IFD0's successor is IFD1, the embedded thumbnail.
		if d.kind == exifKindMain && p+4 <= len(b) && n > 0 {
			queue = append(queue, dir{bo.Uint32(b[p:]), exifKindThumb})
		}
	}
	if gpsPos {
		info.names = append(info.names, "GPS position")
	} else if gps {
		info.names = append(info.names, "GPS data")
	}
	named := map[uint16]bool{}
	for _, en := range exifNames {
		hit := false
		for _, t := range en.tags {
			named[t] = true
			hit = hit || seen[t]
		}
		if hit {
			info.names = append(info.names, en.name)
		}
	}
	if thumb {
		info.names = append(info.names, "embedded thumbnail")
	}
	if other {
		for t := range seen {
			if !named[t] {
				info.names = append(info.names, "camera settings")
				break
			}
		}
	}
	return info
}

// orientationEXIF is a minimal EXIF block (for a JPEG APP1 segment, after
// "Exif\0\0") holding only the orientation: big-endian TIFF header, one
// IFD with one SHORT entry, no next IFD.
func orientationEXIF(o uint16) []byte {
	b := []byte("MM\x00*\x00\x00\x00\x08" + // header, IFD0 at 8
		"\x00\x01" + // one entry
		"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x00\x00\x00" + // orientation, SHORT, count 1, value
		"\x00\x00\x00\x00") // no IFD1
	binary.BigEndian.PutUint16(b[18:], o)
	return b
}
