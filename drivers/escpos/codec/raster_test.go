package codec

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRasterBits(t *testing.T) {
	r := NewRaster(10, 2)
	if r.WidthBytes != 2 || r.Height != 2 || r.Width() != 16 {
		t.Fatalf("geometry %+v", r)
	}
	r.Set(0, 0, true)
	r.Set(9, 1, true)
	r.Set(99, 0, true) // outside: ignored
	if !reflect.DeepEqual(r.Data, []byte{0x80, 0, 0, 0x40}) {
		t.Fatalf("data % x", r.Data)
	}
	if !r.At(0, 0) || r.At(1, 0) || !r.At(9, 1) || r.At(-1, 0) {
		t.Error("At disagrees with Set")
	}
	if got := string(r.PBM()); got != "P4\n16 2\n\x80\x00\x00\x40" {
		t.Errorf("PBM %q", got)
	}
}

func TestQRBitmapQuietZone(t *testing.T) {
	const scale = 3
	img, err := QRBitmap("ABC", QRLevelM, scale)
	if err != nil {
		t.Fatal(err)
	}
	modules := img.Height / scale
	if img.Height%scale != 0 || modules != 21+8 { // version 1 plus 4 modules of quiet zone each side
		t.Fatalf("height %d", img.Height)
	}
	for y := 0; y < 4*scale; y++ {
		for x := 0; x < img.Height; x++ {
			if img.At(x, y) {
				t.Fatalf("quiet zone dot (%d,%d) is black", x, y)
			}
		}
	}
	// The finder pattern's corner is the first black module.
	if !img.At(4*scale, 4*scale) || !img.At(4*scale+scale-1, 4*scale+scale-1) {
		t.Error("finder pattern not where expected")
	}
}

func TestQRRasterThroughParser(t *testing.T) {
	job, err := NewBuilder(Paper80).Init().QRRaster(testURL, 6).Cut().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	r := Paper80.Render(mustParse(t, job))
	want, _ := QRBitmap(testURL, QRLevelM, 6)
	if len(r.Rasters) != 1 || !reflect.DeepEqual(r.Rasters[0], want) {
		t.Fatalf("rasters %d", len(r.Rasters))
	}
	if !strings.Contains(r.Text, "[image ") {
		t.Errorf("text %q", r.Text)
	}
}

// zbarimg reads the PBM made from the GS v 0 bits the parser recovered:
// this checks bit order, polarity and row width against an independent
// decoder.
func TestQRRasterDecodesWithZbar(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("zbarimg not installed (apt-get install zbar-tools): %v", err)
		}
		t.Skip("zbarimg not installed")
	}
	for _, tc := range []struct {
		paper   PaperWidth
		payload string
		scale   int
	}{
		{Paper58, testURL, 4},
		{Paper80, testURL, 6},
		{Paper58, "订单 ORD-1 金额12.50元", 5},
	} {
		job, err := NewBuilder(tc.paper).QRRaster(tc.payload, tc.scale).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		r := tc.paper.Render(mustParse(t, job))
		if len(r.Rasters) != 1 {
			t.Fatalf("rasters %d", len(r.Rasters))
		}
		path := filepath.Join(t.TempDir(), "qr.pbm")
		if err := os.WriteFile(path, r.Rasters[0].PBM(), 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(zbar, "--nodbus", "-q", "--raw", path)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("zbarimg %s: %v (%s)", path, err, stderr.String())
		}
		if got := strings.TrimRight(stdout.String(), "\n"); got != tc.payload {
			t.Errorf("zbarimg read %q, want %q", got, tc.payload)
		}
	}
}
