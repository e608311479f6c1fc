// Package codec is the pure byte layer of the ESC/POS receipt printer: a
// Builder that turns receipt content into a print job, the decoding of the
// real-time status replies (DLE EOT) and of Automatic Status Back, and a
// streaming Parser plus Render that turn a job back into typed commands and
// a human-readable receipt. It does no I/O and starts no goroutines.
//
// # Text and the printer's font
//
// Chinese receipt printers print text in "Chinese mode" (FS &): each 2-byte
// GB18030/GBK code is one full-width glyph. Many of them (SP91, SPRT) only
// know the 2-byte areas; a 4-byte GB18030 sequence prints as garbage, and a
// GBK or GB2312 font has no glyph for the characters GB18030 later put into
// GBK's user-defined codes (䶮 U+4DAE is FE 9F). The Charset option says
// which 2-byte codes the printer's font has (default GBK). The Builder
// sends ASCII as single bytes outside Chinese mode, wraps every run of
// other characters in FS & … FS ., and replaces what the font lacks:
//
//   - '¥' (U+00A5, a 4-byte code) becomes '￥' (U+FFE5, A3 A4),
//   - any other character outside the charset (emoji, rare CJK extension
//     characters, private-use code points, control characters) becomes '?'.
//
// '\n' is a line feed; '\r' is dropped. Every replacement is recorded in
// Builder.Substitutions so the caller can tell that the receipt differs from
// what it asked for.
//
// # Rare characters as images
//
// Rare characters are common in names on ID cards. Given a Font (WithFont;
// ParseFont reads a TrueType/OpenType file or collection that the caller
// has loaded), the Builder draws every line that holds a visible character
// the printer cannot print but the font can as one GS v 0 image the width
// of the paper, in Font A's cells (12×24 dots for ASCII, 24×24 for a
// hanzi), honouring bold, underline, GS ! size and alignment, and wrapping
// like the printer would. The rest of the receipt stays text. Text is held
// back until its line ends so that the whole line can be judged; commands
// that print nothing (bold, size, alignment) keep their place in the byte
// stream. Builder.RasterLines lists the lines sent as images. Characters
// neither the printer nor the font has are drawn as '?' and recorded as
// substitutions; without a font nothing changes from the text rules above.
//
// # QR codes
//
// QR sends GS ( k by default; with WithQRMode(QRModeRaster) it draws the
// symbol here (go-qrcode, quiet zone kept) and sends it as an image, for
// printers without a working GS ( k.
package codec
