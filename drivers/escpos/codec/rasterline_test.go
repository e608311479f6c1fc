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

// idReceipt is a receipt with the applicant's name on one line: only that
// line has a character the printer's GBK font lacks.
func idReceipt(b *Builder, name string) *Builder {
	return b.Init().
		Align(AlignCenter).Bold(true).Line("受理回执").Bold(false).
		Align(AlignLeft).
		TwoColumn("事项", "户籍证明").
		Line("姓名："+name).
		TwoColumn("金额", "0.00 元").
		Line("请保留此凭证").
		Cut()
}

func TestRareCharacterLineBecomesRaster(t *testing.T) {
	font := fontWith(t, "王䶮", "fonts-droid-fallback (or fonts-noto-cjk)")
	for _, paper := range []PaperWidth{Paper80, Paper58} {
		b := idReceipt(NewBuilder(paper, WithFont(font)), "王䶮")
		job, err := b.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		r := paper.Render(mustParse(t, job))
		t.Logf("%s:\n%s", paper, r.Text)
		if len(r.Rasters) != 1 {
			t.Fatalf("%d images, want 1", len(r.Rasters))
		}
		img := r.Rasters[0]
		if img.Width() != paper.Dots() || img.Height != CellHeight {
			t.Fatalf("image %dx%d, want %dx%d", img.Width(), img.Height, paper.Dots(), CellHeight)
		}
		// 姓名： 王 䶮 take 5 cells of 24 dots; the rest of the line is blank.
		for i, ch := range []rune("姓名：王䶮") {
			if n := inked(img, 24*i, 0, 24*(i+1), 24); n < 20 {
				t.Errorf("cell %d (%c) has %d black dots", i, ch, n)
			}
		}
		if n := inked(img, 5*24+2, 0, img.Width(), 24); n != 0 {
			t.Errorf("%d black dots right of the name", n)
		}
		// 王 is three horizontal strokes: three separate bands of rows
		// with a long black run.
		if bands := strokeBands(img, 3*24, 4*24); bands != 3 {
			t.Errorf("王 drawn with %d horizontal strokes, want 3", bands)
		}
		want := []string{"受理回执  «bold»", "事项 ", "户籍证明", "[image " + itoa(paper.Dots()) + "x24: rare-character line]", "金额 ", "请保留此凭证", "--- cut ---"}
		for _, w := range want {
			if !strings.Contains(r.Text, w) {
				t.Errorf("receipt lacks %q", w)
			}
		}
		if strings.Contains(r.Text, "姓名") || strings.Contains(r.Text, "?") {
			t.Error("the name line also went out as text")
		}
		if subs := b.Substitutions(); len(subs) != 0 {
			t.Errorf("substitutions %+v", subs)
		}
		rl := b.RasterLines()
		if len(rl) != 1 || !reflect.DeepEqual(rl[0].Runes, []rune{'䶮'}) || rl[0].Width != paper.Dots() || rl[0].Height != 24 ||
			!bytes.HasPrefix(job[rl[0].Offset:], []byte{GS, 'v', '0'}) {
			t.Errorf("raster lines %+v", rl)
		}
	}
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

// strokeBands counts bands of consecutive rows that have a black run at
// least half the cell wide in columns [x0, x1).
func strokeBands(img Raster, x0, x1 int) int {
	bands, in := 0, false
	for y := 0; y < img.Height; y++ {
		run, best := 0, 0
		for x := x0; x < x1; x++ {
			if img.At(x, y) {
				run++
				best = max(best, run)
			} else {
				run = 0
			}
		}
		long := best >= (x1-x0)/2
		if long && !in {
			bands++
		}
		in = long
	}
	return bands
}

// With the font `make test` installs: 䶵 (U+4DB5, a 4-byte GB18030 code)
// is in WenQuanYi.
func TestRareCharacterWithInstalledFont(t *testing.T) {
	font := loadFontFile(t, wqyPath)
	b := NewBuilder(Paper58, WithFont(font)).Line("王䶵").Line("text")
	job, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	r := Paper58.Render(mustParse(t, job))
	if len(r.Rasters) != 1 || inked(r.Rasters[0], 24, 0, 48, 24) < 20 || r.Text != "[image 384x24: rare-character line]\ntext\n" {
		t.Fatalf("rendered %q", r.Text)
	}
}

func TestNoFontSubstitutes(t *testing.T) {
	b := idReceipt(NewBuilder(Paper80), "王䶮")
	job, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	r := Paper80.Render(mustParse(t, job))
	if len(r.Rasters) != 0 || !strings.Contains(r.Text, "姓名：王?") {
		t.Fatalf("rendered:\n%s", r.Text)
	}
	subs := b.Substitutions()
	if len(subs) != 1 || subs[0].Rune != '䶮' || subs[0].With != '?' || job[subs[0].Offset] != '?' {
		t.Errorf("substitutions %+v", subs)
	}
	if b.RasterLines() != nil {
		t.Error("raster lines without a font")
	}
}

// A font without the character changes nothing: the line stays text.
func TestFontWithoutTheCharacter(t *testing.T) {
	want, _ := NewBuilder(Paper58).Line("王䶮 😀").Bytes()
	b := NewBuilder(Paper58, WithFont(goFont(t))).Line("王䶮 😀")
	got, err := b.Bytes()
	if err != nil || !bytes.Equal(got, want) || len(b.Substitutions()) != 2 {
		t.Fatalf("got % x (%v), want % x; subs %+v", got, err, want, b.Substitutions())
	}
}

// In a line drawn as an image, characters no font has are drawn as '?'
// and recorded at the image's offset; '¥' is drawn as '￥', as in text.
func TestRasterLineSubstitutions(t *testing.T) {
	font := goFont(t) // has Latin-1 'ø' (4-byte GB18030), no hanzi, no emoji
	b := NewBuilder(Paper58, WithFont(font)).Line("Bjørn 😀 ¥")
	job, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	rl := b.RasterLines()
	if len(rl) != 1 || !reflect.DeepEqual(rl[0].Runes, []rune{'ø'}) {
		t.Fatalf("raster lines %+v", rl)
	}
	want := []Substitution{{Rune: '😀', With: '?', Offset: rl[0].Offset}, {Rune: '¥', With: '￥', Offset: rl[0].Offset}}
	if got := b.Substitutions(); !reflect.DeepEqual(got, want) {
		t.Errorf("substitutions %+v, want %+v", got, want)
	}
	img := mustRasters(t, job)[0]
	// B j ø r n _ ? _ ￥: the '?' (cell 6) is inked; ￥ is missing from Go
	// Regular and so is drawn as '?' too.
	for _, cellN := range []int{0, 2, 6} {
		if inked(img, 12*cellN, 0, 12*cellN+12, 24) == 0 {
			t.Errorf("cell %d blank", cellN)
		}
	}
}

func mustRasters(t *testing.T, job []byte) []Raster {
	t.Helper()
	r := Render(mustParse(t, job))
	if len(r.Rasters) == 0 {
		t.Fatal("no image in job")
	}
	return r.Rasters
}

// Styles set in the middle of a line stay in place in the byte stream
// and apply to the characters after them in the image.
func TestRasterLineStyles(t *testing.T) {
	font := goFont(t)
	b := NewBuilder(Paper58, WithFont(font)).
		Text("ø").Bold(true).Text("ø").Bold(false).Size(2, 2).Text("ø").Size(1, 1).Text("\n").
		Line("after")
	job, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	cmds := mustParse(t, job)
	var kinds []string
	for _, c := range cmds {
		f := strings.Fields(c.String())
		kinds = append(kinds, strings.Join(f[:min(2, len(f))], " "))
	}
	if got := strings.Join(kinds, ", "); !strings.HasPrefix(got, "ESC E, ESC E, GS !, GS !, GS v") {
		t.Errorf("commands: %s", got)
	}
	img := mustRasters(t, job)[0]
	if img.Height != 48 { // the 2x2 character makes the row 48 dots tall
		t.Fatalf("height %d", img.Height)
	}
	plain, bold, big := inked(img, 0, 24, 12, 48), inked(img, 12, 24, 24, 48), inked(img, 24, 0, 48, 48)
	if !(bold > plain && big > 3*plain) || inked(img, 0, 0, 24, 24) != 0 {
		t.Errorf("plain %d bold %d big %d dots; top-left %d", plain, bold, big, inked(img, 0, 0, 24, 24))
	}
	if r := Paper58.Render(cmds); !strings.HasSuffix(r.Text, "after\n") {
		t.Errorf("rendered %q", r.Text)
	}
}

func TestRasterLineAlignmentAndWrap(t *testing.T) {
	font := goFont(t)
	job, err := NewBuilder(Paper58, WithFont(font)).Align(AlignRight).Line("ø").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	img := mustRasters(t, job)[0]
	if inked(img, 0, 0, 384-12, 24) != 0 || inked(img, 384-12, 0, 384, 24) == 0 {
		t.Error("right-aligned character not at the right edge")
	}
	long := strings.Repeat("ø", 40) // 40 half cells on 32 columns: two rows
	job, err = NewBuilder(Paper58, WithFont(font)).Line(long).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if img := mustRasters(t, job)[0]; img.Height != 48 || inked(img, 0, 24, 8*12, 48) == 0 || inked(img, 8*12+1, 24, 384, 48) != 0 {
		t.Errorf("wrapped image %dx%d", img.Width(), img.Height)
	}
}

// Raw ends the held-back line; a line that was partly sent as text before
// it gets a line feed before its image.
func TestRasterLineAfterRaw(t *testing.T) {
	job, err := NewBuilder(Paper58, WithFont(goFont(t))).Text("a").Raw([]byte{ESC, '!', 0}).Text("ø\n").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(job, []byte("a\x1b!\x00\n\x1dv0")) {
		t.Errorf("job starts % x", job[:12])
	}
}

// TwoColumn counts a character the font draws at its drawn width.
func TestColumnsWithFont(t *testing.T) {
	b := NewBuilder(Paper80, WithFont(goFont(t)))
	if got := b.Columns("ø王"); got != 3 {
		t.Errorf("Columns = %d, want 3", got)
	}
	font := fontWith(t, "䶮", "fonts-droid-fallback (or fonts-noto-cjk)")
	b = NewBuilder(Paper80, WithFont(font))
	if got, plain := b.Columns("王䶮"), Columns("王䶮"); got != 4 || plain != 3 {
		t.Errorf("Columns = %d (font) and %d (none), want 4 and 3", got, plain)
	}
	job, _ := b.TwoColumn("姓名", "王䶮").Bytes()
	img := mustRasters(t, job)[0]
	// Right-aligned to the paper edge: the last glyph's cell is inked.
	if inked(img, 576-24, 0, 576, 24) < 20 {
		t.Error("two-column line not flush right")
	}
}

func TestCharsets(t *testing.T) {
	for _, tt := range []struct {
		c    Charset
		in   string
		want string
	}{
		{"", "䶮", "3f"},
		{CharsetGBK, "䶮喆", "3f 1c26 86b4 1c2e"},
		{CharsetGB18030, "䶮", "1c26 fe9f 1c2e"},
		{CharsetGB2312, "王喆", "1c26 cdf5 1c2e 3f"},
		{CharsetGB2312, "￥·", "1c26 a3a4 a1a4 1c2e"},
	} {
		got, err := NewBuilder(Paper58, WithCharset(tt.c)).Text(tt.in).Bytes()
		if err != nil || !bytes.Equal(got, unhex(t, tt.want)) {
			t.Errorf("%s %q: % x (%v), want %s", tt.c, tt.in, got, err, tt.want)
		}
	}
	if _, err := NewBuilder(Paper58, WithCharset("big5")).Text("x").Bytes(); err == nil || !strings.Contains(err.Error(), "big5") {
		t.Errorf("bad charset: %v", err)
	}
	if got := Unprintable("王䶮𠮷"); !reflect.DeepEqual(got, []rune{'䶮', '𠮷'}) {
		t.Errorf("Unprintable = %q", got)
	}
}

func TestQRModeRaster(t *testing.T) {
	b := NewBuilder(Paper80, WithQRMode(QRModeRaster)).Init().Align(AlignCenter).QR(testURL, 6, QRLevelM).Line("below").Cut()
	job, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(job, []byte{GS, '(', 'k'}) {
		t.Error("raster mode sent GS ( k")
	}
	cmds := mustParse(t, job)
	r := Paper80.Render(cmds)
	if len(r.Rasters) != 1 || len(r.QRPayloads) != 0 {
		t.Fatalf("rendered:\n%s", r.Text)
	}
	// Centred by drawing the margin into the image, sent left-aligned,
	// then the alignment is restored for the text after it.
	want, _ := QRBitmap(testURL, QRLevelM, 6)
	img := r.Rasters[0]
	pad := (576 - want.Width()) / 2
	if img.Width() != (pad+want.Width()+7)/8*8 || img.Height != want.Height || inked(img, 0, 0, pad, img.Height) != 0 {
		t.Fatalf("image %dx%d, symbol %d, pad %d", img.Width(), img.Height, want.Width(), pad)
	}
	for y := 0; y < want.Height; y++ {
		for x := 0; x < want.Width(); x++ {
			if img.At(pad+x, y) != want.At(x, y) {
				t.Fatalf("dot (%d,%d) differs from the symbol", x, y)
			}
		}
	}
	var seq []string
	for _, c := range cmds {
		switch c.(type) {
		case Justify, RasterImage:
			seq = append(seq, c.String())
		}
	}
	if got := strings.Join(seq, " | "); !strings.HasPrefix(got, "ESC a 1 | ESC a 0 | GS v 0 m=0 ") || !strings.HasSuffix(got, " | ESC a 1") {
		t.Errorf("sequence %s", got)
	}
	if !strings.Contains(r.Text, "\n"+strings.Repeat(" ", (48-5)/2)+"below\n") {
		t.Errorf("text after the symbol not centred:\n%s", r.Text)
	}

	// Too big for 58 mm at 16 dots a module: drawn smaller, not refused.
	job, err = NewBuilder(Paper58, WithQRMode(QRModeRaster)).QR(testURL, 16, QRLevelH).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if img := mustRasters(t, job)[0]; img.Width() > 384 || img.Height > 384 {
		t.Errorf("image %dx%d on 58 mm", img.Width(), img.Height)
	}
	if _, err := NewBuilder(Paper58, WithQRMode("laser")).Bytes(); err == nil || !strings.Contains(err.Error(), "laser") {
		t.Errorf("bad mode: %v", err)
	}
	if b := NewBuilder(Paper58, WithQRMode("")); b.QRMode() != QRModeNative {
		t.Errorf("default mode %q", b.QRMode())
	}
}

// The QR printed in raster mode decodes back with zbarimg, read from the
// GS v 0 bits the parser recovered from the job.
func TestQRModeRasterDecodesWithZbar(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("zbarimg not installed (apt-get install zbar-tools): %v", err)
		}
		t.Skip("zbarimg not installed")
	}
	for _, paper := range []PaperWidth{Paper58, Paper80} {
		job, err := NewBuilder(paper, WithQRMode(QRModeRaster)).Init().Align(AlignCenter).
			Line("扫码查询").QR(testURL, 6, QRLevelM).Cut().Bytes()
		if err != nil {
			t.Fatal(err)
		}
		r := paper.Render(mustParse(t, job))
		if len(r.Rasters) != 1 {
			t.Fatalf("%d images", len(r.Rasters))
		}
		path := filepath.Join(t.TempDir(), "qr.pbm")
		if err := os.WriteFile(path, r.Rasters[0].PBM(), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(zbar, "--nodbus", "-q", "--raw", path).Output()
		if err != nil {
			t.Fatalf("zbarimg: %v", err)
		}
		if got := strings.TrimRight(string(out), "\n"); got != testURL {
			t.Errorf("%s: zbarimg read %q", paper, got)
		}
	}
}
