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
// know the 2-byte areas; a 4-byte GB18030 sequence prints as garbage. The
// Builder therefore sends ASCII as single bytes outside Chinese mode, wraps
// every run of other characters in FS & … FS ., and replaces what has no
// 2-byte code:
//
//   - '¥' (U+00A5, a 4-byte code) becomes '￥' (U+FFE5, A3 A4),
//   - any other character without a 2-byte code (emoji, rare CJK extension
//     characters, private-use code points, control characters) becomes '?'.
//
// '\n' is a line feed; '\r' is dropped. Every replacement is recorded in
// Builder.Substitutions so the caller can tell that the receipt differs from
// what it asked for.
//
// Seam for rare characters: a later raster fallback can call Unprintable on a
// line before writing it and, if it lists runes, render that line to a
// bitmap itself and send it with Builder.Image instead of Builder.Text.
// Nothing in this package needs to change for that.
package codec
