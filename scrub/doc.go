// Package scrub removes identifying metadata from files before Sotto sends
// them: the GPS position and camera serial number in a photo, the author of
// a PDF, the printer's name in an office document.
//
// # Images, natively
//
// JPEG, PNG and WebP are cleaned in Go by segment and chunk surgery: the
// file's structure is parsed, the parts that carry metadata are left out and
// every other byte is copied unchanged. Pixels are never decoded, so the
// decoded image is exactly the original one and a decompression bomb costs
// nothing but the time to copy it. What is removed:
//
//   - JPEG: EXIF (APP1; camera, serial numbers, GPS, dates, maker notes,
//     thumbnails), XMP (APP1), ICC profiles and multi-picture data (APP2),
//     IPTC/Photoshop (APP13), every other APPn segment except JFIF (whose
//     thumbnail is dropped) and Adobe APP14 (needed to decode colours),
//     comments (COM) and anything after the end-of-image marker (appended
//     second images, depth maps, vendor trailers). A photo's EXIF
//     orientation, if not the default, is kept in a minimal EXIF segment
//     that holds nothing else, so the picture is still shown upright.
//   - PNG: every ancillary chunk except those that change how pixels are
//     shown (tRNS, gAMA, cHRM, sRGB, cICP, sBIT, bKGD) and APNG's animation
//     chunks: tEXt, zTXt and iTXt (XMP, author, software), eXIf, tIME,
//     iCCP, pHYs, C2PA and unknown chunks; and anything after IEND.
//   - WebP: EXIF, XMP, ICCP and unknown chunks (the VP8X flags are
//     updated to match), and anything after the RIFF container.
//
// # Other formats, with mat2
//
// PDF, office documents, audio, video and the other formats that
// [mat2] (Debian's mat2, the tool Tails ships) supports are cleaned by
// running it on a private copy of the file. When mat2 is not installed, or
// does not support the format, [Clean] fails with an error wrapping
// [ErrUnsupported] (and [ErrNoMat2] when installing mat2 would help): the
// caller must then ask its user whether to send the original unchanged.
// Plain UTF-8 text has no hidden metadata and passes unchanged.
//
// # Reports
//
// Every successful [Clean] returns a [Report] saying which tool cleaned the
// file and what it removed, by kind ("EXIF: GPS position", "XMP", "ICC
// colour profile"), never with the values themselves.
//
// # Decompression bombs
//
// [Inspect] reads an image's declared dimensions from its headers alone
// (JPEG, PNG, WebP, GIF, TIFF, BMP). An image declaring more than
// [MaxPixels] pixels is refused ([ErrBomb]), and so is a GIF or TIFF whose
// frames or pages number more than [MaxFrames] or declare more than
// [MaxTotalPixels] together: Sotto never decodes them, but an image viewer
// opening one could exhaust the receiver's memory. A GIF's blocks are
// walked without decoding their LZW data; a TIFF's chain of IFDs is
// followed through the file's first 16 MiB, read into memory.
//
// [mat2]: https://0xacab.org/jvoisin/mat2
package scrub
