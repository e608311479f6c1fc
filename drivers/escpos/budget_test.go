package escpos_test

import (
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"tongban/drivers/device"
	"tongban/drivers/escpos"
	"tongban/drivers/escpos/codec"
)

// typicalReceipt is an 80 mm payment receipt as kiosk/receipt lays it out:
// a double-size title, a dozen two-column lines, a verification QR code
// and a footer. name adds an applicant line (with a rare character, it
// goes out as an image).
func typicalReceipt(b *codec.Builder, name string) ([]byte, error) {
	cols := b.Paper().Columns()
	b.Init().Align(codec.AlignCenter).Bold(true).Size(2, 2).Line("缴费凭证").Size(1, 1).Bold(false)
	b.Line("县乡通办自助终端").Align(codec.AlignLeft).Line(strings.Repeat("-", cols))
	if name != "" {
		b.Line("缴费人：" + name)
	}
	for _, kv := range [][2]string{
		{"缴费项目", "电费"}, {"户号", "0101-2233-4455"}, {"收款单位", "国网某县供电公司"}, {"账期", "2026-10"},
		{"现金 20.00元 x 1", "20.00"}, {"现金 10.00元 x 1", "10.00"},
	} {
		b.TwoColumn(kv[0], kv[1])
	}
	b.Bold(true).TwoColumn("实缴金额", "30.00 元").Bold(false)
	b.TwoColumn("抵扣账单", "28.50 元").TwoColumn("存为预存款", "1.50 元")
	b.Line(strings.Repeat("-", cols))
	for _, kv := range [][2]string{
		{"时间", "2026-11-26 10:15:02"}, {"终端", "ZB-441302-0007"}, {"交易号", "P20261126101502000123"},
		{"验证码", "7F3A-91C2"}, {"参考号", "R-000123"},
	} {
		b.TwoColumn(kv[0], kv[1])
	}
	b.Align(codec.AlignCenter).Feed(1).QR(receiptURL, 6, codec.QRLevelM).Line("扫码核验本凭证")
	b.Line("请妥善保管本凭证").Feed(3).Cut()
	return b.Bytes()
}

// TestPrintReceiptBudget prints typical 80 mm receipts to the simulator
// over a pseudo terminal at the default line (115200 8N1) and compares the
// time Print takes with the job's wire time; it also times the Builder.
// It only runs with BENCH=1:
//
//	BENCH=1 go test -count=1 -run Budget -v ./drivers/escpos/
//
// Budgets: Print less the fixed AfterJob pause within 1.5× the wire time
// (the status requests before and after, pacing and the pty); the Builder
// under 1 ms per receipt, 5 ms with a line drawn as an image.
func TestPrintReceiptBudget(t *testing.T) {
	if os.Getenv("BENCH") != "1" {
		t.Skip("set BENCH=1 to measure the print budget")
	}
	for _, mode := range []codec.QRMode{codec.QRModeNative, codec.QRModeRaster} {
		r := newRig(t, true, func(c *escpos.Config) {
			c.Paper, c.QRMode, c.PollInterval = codec.Paper80, mode, 5*time.Second
		})
		r.waitState(device.Online, "")
		job, err := typicalReceipt(r.drv.Builder(), "")
		if err != nil {
			t.Fatal(err)
		}
		n := 15
		if mode == codec.QRModeRaster {
			n = 5 // over a second each
		}
		var took []time.Duration
		for range n {
			start := time.Now()
			if err := r.print(job); err != nil {
				t.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		med := took[n/2]
		wire := r.drv.Line().WireTime(len(job))
		const afterJob = 200 * time.Millisecond // the default pause before the status check after a job
		ratio, overhead := float64(med)/float64(wire), float64(med-afterJob)/float64(wire)
		t.Logf("print budget (%s QR): %d bytes, wire %v at %s; Print median %v (best %v, worst %v) over %d; ratio %.2f, without the %v after-job pause %.2f (budget 1.5)",
			mode, len(job), wire.Round(time.Millisecond), r.drv.Line(), med.Round(time.Millisecond), took[0].Round(time.Millisecond),
			took[n-1].Round(time.Millisecond), n, ratio, afterJob, overhead)
		if overhead > 1.5 {
			t.Errorf("%s: Print less the after-job pause is %.2f× the wire time, budget 1.5×", mode, overhead)
		}
		if got := len(r.sim.Receipts()); got != n {
			t.Errorf("%d receipts printed, want %d", got, n)
		}
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	font, loaded, _ := escpos.LoadFont("")
	loadTook := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	for _, tc := range []struct {
		name   string
		opts   []codec.Option
		person string
		budget time.Duration
	}{
		{"text only, native QR", nil, "", time.Millisecond},
		{"text only, font loaded", []codec.Option{codec.WithFont(font)}, "王小明", time.Millisecond},
		{"rare-character line", []codec.Option{codec.WithFont(font)}, "王䶮", 5 * time.Millisecond},
		{"raster QR", []codec.Option{codec.WithQRMode(codec.QRModeRaster)}, "", 5 * time.Millisecond},
	} {
		if tc.person == "王䶮" && !font.Has('䶮') {
			t.Logf("builder budget (%s): skipped, no font draws 䶮", tc.name)
			continue
		}
		per := timeBuild(t, tc.opts, tc.person)
		job, _ := typicalReceipt(codec.NewBuilder(codec.Paper80, tc.opts...), tc.person)
		t.Logf("builder budget (%s): %v per receipt, %d bytes (budget %v)", tc.name, per.Round(time.Microsecond), len(job), tc.budget)
		if per > tc.budget {
			t.Errorf("%s: builder %v per receipt, budget %v", tc.name, per, tc.budget)
		}
	}
	t.Logf("font budget: loading %v took %v once and keeps %.1f MiB (%s)", loaded, loadTook.Round(time.Millisecond),
		float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), font)
	runtime.KeepAlive(font)
}

// timeBuild is the median time to build one typical receipt.
func timeBuild(t *testing.T, opts []codec.Option, person string) time.Duration {
	t.Helper()
	const rounds, per = 7, 50
	var meds []time.Duration
	for range rounds {
		start := time.Now()
		for range per {
			if _, err := typicalReceipt(codec.NewBuilder(codec.Paper80, opts...), person); err != nil {
				t.Fatal(err)
			}
		}
		meds = append(meds, time.Since(start)/per)
	}
	slices.Sort(meds)
	return meds[rounds/2]
}

// BenchmarkBuildReceipt: one iteration builds one typical 80 mm receipt.
//
//	go test -run '^$' -bench BuildReceipt ./drivers/escpos/
func BenchmarkBuildReceipt(b *testing.B) {
	font, _, _ := escpos.LoadFont("")
	for _, tc := range []struct {
		name   string
		opts   []codec.Option
		person string
	}{
		{"text", nil, ""},
		{"rare-line", []codec.Option{codec.WithFont(font)}, "王䶮"},
		{"raster-qr", []codec.Option{codec.WithQRMode(codec.QRModeRaster)}, ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if tc.person == "王䶮" && !font.Has('䶮') {
				b.Skip("no font draws 䶮")
			}
			var n int
			for b.Loop() {
				job, err := typicalReceipt(codec.NewBuilder(codec.Paper80, tc.opts...), tc.person)
				if err != nil {
					b.Fatal(err)
				}
				n = len(job)
			}
			b.ReportMetric(float64(n), "bytes/receipt")
			wire := escpos.DefaultLine().WireTime(n)
			b.ReportMetric(float64(wire.Microseconds())/1000, "wire-ms")
		})
	}
}
