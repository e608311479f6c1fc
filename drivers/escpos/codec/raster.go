package codec

import (
	"fmt"
	"strconv"

	"github.com/skip2/go-qrcode"
)

// Raster is a 1-bit image in the GS v 0 layout: rows of WidthBytes bytes,
// the most significant bit is the leftmost dot and 1 is black.
type Raster struct {
	Mode       byte // GS v 0 m: 0 normal, 1 double width, 2 double height, 3 quadruple
	WidthBytes int  // bytes per row (the width in dots is 8×WidthBytes)
	Height     int  // rows, in dots
	Data       []byte
}

// Limits on GS v 0 accepted by the Builder and the Parser. The height limit
// is yH ≤ 8 from the Cino reference; the width is far above 576 dots so that
// wider printers still parse.
const (
	MaxRasterWidthBytes = 255
	MaxRasterHeight     = 8*256 + 255
)

// NewRaster returns a white image at least widthDots wide.
func NewRaster(widthDots, height int) Raster {
	wb := (widthDots + 7) / 8
	if wb < 0 || height < 0 {
		wb, height = 0, 0
	}
	return Raster{WidthBytes: wb, Height: height, Data: make([]byte, wb*height)}
}

// Width is the width in dots.
func (r Raster) Width() int { return r.WidthBytes * 8 }

// At reports whether dot (x, y) is black; outside the image is white.
func (r Raster) At(x, y int) bool {
	if x < 0 || y < 0 || x >= r.Width() || y >= r.Height || len(r.Data) < r.WidthBytes*r.Height {
		return false
	}
	return r.Data[y*r.WidthBytes+x/8]&(0x80>>(x%8)) != 0
}

// Set paints dot (x, y); outside the image it does nothing.
func (r *Raster) Set(x, y int, black bool) {
	if x < 0 || y < 0 || x >= r.Width() || y >= r.Height || len(r.Data) < r.WidthBytes*r.Height {
		return
	}
	i, m := y*r.WidthBytes+x/8, byte(0x80>>(x%8))
	if black {
		r.Data[i] |= m
	} else {
		r.Data[i] &^= m
	}
}

// check validates the geometry against the data.
func (r Raster) check() error {
	switch {
	case r.WidthBytes < 1 || r.WidthBytes > MaxRasterWidthBytes:
		return fmt.Errorf("raster width %d bytes: want 1..%d", r.WidthBytes, MaxRasterWidthBytes)
	case r.Height < 1:
		return fmt.Errorf("raster height %d: want at least 1", r.Height)
	case len(r.Data) != r.WidthBytes*r.Height:
		return fmt.Errorf("raster data %d bytes: want %d×%d = %d", len(r.Data), r.WidthBytes, r.Height, r.WidthBytes*r.Height)
	case r.Mode > 3 && (r.Mode < 48 || r.Mode > 51):
		return fmt.Errorf("raster mode %d: want 0..3 or 48..51", r.Mode)
	}
	return nil
}

// PBM is the image as a binary portable bitmap (P4). PBM uses the same bit
// order and polarity as GS v 0, so the rows are copied unchanged; image
// tools (zbarimg among them) read it directly.
func (r Raster) PBM() []byte {
	hdr := "P4\n" + strconv.Itoa(r.Width()) + " " + strconv.Itoa(r.Height) + "\n"
	out := make([]byte, 0, len(hdr)+len(r.Data))
	return append(append(out, hdr...), r.Data...)
}

// QRLevel is the QR error-correction level in GS ( k fn 69 numbering.
type QRLevel byte

const (
	QRLevelL QRLevel = 48 // 7 %
	QRLevelM QRLevel = 49 // 15 %
	QRLevelQ QRLevel = 50 // 25 %
	QRLevelH QRLevel = 51 // 30 %
)

func (l QRLevel) valid() bool { return l >= QRLevelL && l <= QRLevelH }

func (l QRLevel) lib() qrcode.RecoveryLevel {
	switch l {
	case QRLevelL:
		return qrcode.Low
	case QRLevelQ:
		return qrcode.High
	case QRLevelH:
		return qrcode.Highest
	}
	return qrcode.Medium
}

// QRBitmap draws payload as a QR code, each module scale×scale dots, with
// the 4-module quiet zone kept (printers do not add one). It is the host
// side of printing a QR code as an image, for printers without GS ( k.
func QRBitmap(payload string, level QRLevel, scale int) (Raster, error) {
	if scale < 1 || scale > 16 {
		return Raster{}, fmt.Errorf("qr raster: scale %d: want 1..16", scale)
	}
	m, err := qrMatrix(payload, level)
	if err != nil {
		return Raster{}, err
	}
	return scaleMatrix(m, scale), nil
}

// qrMatrix is the symbol's modules with the quiet zone, [y][x], true = black.
func qrMatrix(payload string, level QRLevel) ([][]bool, error) {
	if payload == "" {
		return nil, fmt.Errorf("qr raster: empty payload")
	}
	if !level.valid() {
		return nil, fmt.Errorf("qr raster: level %d: want 48..51", level)
	}
	q, err := qrcode.New(payload, level.lib())
	if err != nil {
		return nil, fmt.Errorf("qr raster: %w", err)
	}
	// DisableBorder is only honoured before the first render; set it
	// explicitly so the quiet zone is there whatever the library default.
	q.DisableBorder = false
	bm := q.Bitmap()
	if len(bm) == 0 {
		return nil, fmt.Errorf("qr raster: empty symbol")
	}
	return bm, nil
}

// scaleMatrix draws each module of m as scale×scale dots.
func scaleMatrix(m [][]bool, scale int) Raster {
	n := len(m)
	img := NewRaster(n*scale, n*scale)
	for y := 0; y < n*scale; y++ {
		row := m[y/scale]
		for x := 0; x < n*scale && x/scale < len(row); x++ {
			if row[x/scale] {
				img.Set(x, y, true)
			}
		}
	}
	return img
}

// shifted is r moved pad dots to the right on a wider image.
func (r Raster) shifted(pad int) Raster {
	out := NewRaster(pad+r.Width(), r.Height)
	out.Mode = r.Mode
	for y := 0; y < r.Height; y++ {
		for x := 0; x < r.Width(); x++ {
			if r.At(x, y) {
				out.Set(pad+x, y, true)
			}
		}
	}
	return out
}
