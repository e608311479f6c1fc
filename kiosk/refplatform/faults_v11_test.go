package refplatform_test

import (
	"context"
	"testing"
	"time"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

// Every new POST under drop-after-commit: the platform commits, the
// terminal gets no reply (retryable), and the retry with the same key
// returns the committed result without doing anything twice.
func TestDropAfterCommitV11(t *testing.T) {
	ctx := context.Background()
	refund := uplink.VoucherRefundRequest{StaffID: "staff-1", Code: "271828"}
	cases := []struct {
		name  string
		path  string // fault filter
		setup func(e *env, clk *clock)
		call  func(e *env, key string) (any, error)
		check func(t *testing.T, e *env, first bool, reply any) // first: after the dropped attempt
	}{
		{
			name: "issue voucher", path: "/v1/vouchers",
			call: func(e *env, key string) (any, error) {
				return e.c.IssueVoucher(ctx, key, voucherReq("VAAAAAAAAAAD1", "271828", 1500))
			},
			check: func(t *testing.T, e *env, first bool, reply any) {
				if vs := e.vouchers(); len(vs) != 1 || vs[0].Voucher.Status != uplink.VoucherIssued {
					t.Fatalf("vouchers: %+v", vs)
				}
			},
		},
		{
			name: "refund voucher", path: "/v1/vouchers/VAAAAAAAAAAD1/refund",
			setup: func(e *env, _ *clock) {
				if _, err := e.c.IssueVoucher(ctx, uplink.NewIdempotencyKey(), voucherReq("VAAAAAAAAAAD1", "271828", 1500)); err != nil {
					t.Fatal(err)
				}
			},
			call: func(e *env, key string) (any, error) {
				return e.c.RefundVoucher(ctx, key, "VAAAAAAAAAAD1", refund)
			},
			check: func(t *testing.T, e *env, first bool, reply any) {
				if vs := e.vouchers(); len(vs) != 1 || vs[0].Voucher.Status != uplink.VoucherRefunded || vs[0].Voucher.RefundedBy != "staff-1" {
					t.Fatalf("vouchers: %+v", vs)
				}
			},
		},
		{
			name: "payment redeeming a voucher", path: "/v1/payments",
			setup: func(e *env, _ *clock) {
				if _, err := e.c.IssueVoucher(ctx, uplink.NewIdempotencyKey(), voucherReq("VAAAAAAAAAAD1", "271828", 1500)); err != nil {
					t.Fatal(err)
				}
			},
			call: func(e *env, key string) (any, error) {
				return e.c.Pay(ctx, key, withVouchers(cash(uplink.Water, "100100100001", "SF202610-100100100001", 7150),
					uplink.VoucherUse{VoucherID: "VAAAAAAAAAAD1", Code: "271828", Amount: 1500}))
			},
			check: func(t *testing.T, e *env, first bool, reply any) {
				ps, vs := e.payments(), e.vouchers()
				if len(ps) != 1 || len(vs) != 1 || vs[0].Voucher.RedeemedBy != ps[0].Payment.PaymentID {
					t.Fatalf("payments %+v vouchers %+v", ps, vs)
				}
				if b := e.bill(uplink.Water, "100100100001"); b.AmountDue != 0 || b.Prepaid != 0 {
					t.Fatalf("bill: %+v", b)
				}
				if p, ok := reply.(uplink.Payment); !first && (!ok || p.PaymentID != ps[0].Payment.PaymentID) {
					t.Fatalf("retry reply %+v", reply)
				}
			},
		},
		{
			name: "create order (paid at once)", path: "/v1/orders",
			call: func(e *env, key string) (any, error) {
				return e.c.CreateOrder(ctx, key, orderReq("O-DROP", uplink.OrderPaymentCode, codeWeChatPays))
			},
			check: func(t *testing.T, e *env, first bool, reply any) {
				os, ps := e.refOrders(), e.payments()
				if len(os) != 1 || len(ps) != 1 || os[0].Order.Status != uplink.OrderPaid || os[0].Order.PaymentID != ps[0].Payment.PaymentID {
					t.Fatalf("orders %+v payments %+v", os, ps)
				}
				if o, ok := reply.(uplink.Order); !first && (!ok || o.PaymentID != ps[0].Payment.PaymentID) {
					t.Fatalf("retry reply %+v", reply)
				}
			},
		},
		{
			name: "reverse paid order", path: "/v1/orders/O-DROP/reverse",
			setup: func(e *env, clk *clock) {
				if _, err := e.c.CreateOrder(ctx, uplink.NewIdempotencyKey(), orderReq("O-DROP", uplink.OrderPaymentCode, codeWeChatPays)); err != nil {
					t.Fatal(err)
				}
				clk.Add(uplink.ReverseGuard)
			},
			call: func(e *env, key string) (any, error) {
				return e.c.ReverseOrder(ctx, key, "O-DROP", uplink.OrderActionRequest{Reason: "cancelled"})
			},
			check: func(t *testing.T, e *env, first bool, reply any) {
				os, ps := e.refOrders(), e.payments()
				if len(os) != 1 || os[0].Order.Status != uplink.OrderReversed || len(ps) != 1 || ps[0].RefundedAt == nil {
					t.Fatalf("orders %+v payments %+v", os, ps)
				}
				if b := e.bill(uplink.Water, "100100100001"); b.AmountDue != 8650 || b.Prepaid != 0 || b.PaidAt != nil {
					t.Fatalf("bill un-applied wrongly: %+v", b)
				}
			},
		},
		{
			name: "close pending order", path: "/v1/orders/O-DROP/close",
			setup: func(e *env, _ *clock) {
				if _, err := e.c.CreateOrder(ctx, uplink.NewIdempotencyKey(), orderReq("O-DROP", uplink.OrderDynamicQR, "")); err != nil {
					t.Fatal(err)
				}
			},
			call: func(e *env, key string) (any, error) {
				return e.c.CloseOrder(ctx, key, "O-DROP", uplink.OrderActionRequest{})
			},
			check: func(t *testing.T, e *env, first bool, reply any) {
				if os := e.refOrders(); len(os) != 1 || os[0].Order.Status != uplink.OrderClosed || len(e.payments()) != 0 {
					t.Fatalf("orders %+v", os)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			e := newEnv(t, refplatform.Options{Now: clk.Now, PaymentCodeDelay: -1})
			if c.setup != nil {
				c.setup(e, clk)
			}
			if err := e.srv.SetFaults(refplatform.Faults{DropAfterCommitRate: 1, Paths: []string{c.path}}); err != nil {
				t.Fatal(err)
			}
			key := uplink.NewIdempotencyKey()
			_, err := c.call(e, key)
			if err == nil || !uplink.IsRetryable(err) || uplink.IsFinal(err) {
				t.Fatalf("dropped reply: %v", err)
			}
			c.check(t, e, true, nil)
			if err := e.srv.SetFaults(refplatform.Faults{}); err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Second)
			reply, err := c.call(e, key)
			if err != nil {
				t.Fatalf("retry with the same key: %v", err)
			}
			c.check(t, e, false, reply)
		})
	}
}

func TestOtherFaultsOnV11(t *testing.T) {
	ctx := context.Background()
	// 5xx: nothing handled, retryable; the same key then commits once.
	e := newEnv(t, refplatform.Options{Faults: refplatform.Faults{Fail5xxRate: 1}})
	key := uplink.NewIdempotencyKey()
	req := orderReq("O-5XX", uplink.OrderDynamicQR, "")
	for range 4 {
		if _, err := e.c.CreateOrder(ctx, key, req); !uplink.IsRetryable(err) {
			t.Fatalf("create under 5xx: %v", err)
		}
		if _, err := e.c.IssueVoucher(ctx, uplink.NewIdempotencyKey(), voucherReq("VAAAAAAAAAAE1", "161803", 100)); !uplink.IsRetryable(err) {
			t.Fatalf("voucher under 5xx: %v", err)
		}
	}
	if len(e.refOrders()) != 0 || len(e.vouchers()) != 0 {
		t.Fatal("a 5xx committed something")
	}
	// The pay page and operator endpoints are outside the faults.
	if st, _ := e.get("/pay/O-5XX", nil); st != 404 {
		t.Fatalf("pay page under faults: %d", st)
	}
	if err := e.srv.SetFaults(refplatform.Faults{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.CreateOrder(ctx, key, req); err != nil {
		t.Fatalf("create after faults off: %v", err)
	}

	// Duplicate delivery: the second delivery is a replay; nothing doubles.
	if err := e.srv.SetFaults(refplatform.Faults{DuplicateReplyRate: 1}); err != nil {
		t.Fatal(err)
	}
	if v, err := e.c.IssueVoucher(ctx, uplink.NewIdempotencyKey(), voucherReq("VAAAAAAAAAAE2", "161803", 100)); err != nil || v.Status != uplink.VoucherIssued {
		t.Fatalf("voucher under duplicate delivery: %+v %v", v, err)
	}
	if _, err := e.c.CreateOrder(ctx, uplink.NewIdempotencyKey(), orderReq("O-DUP", uplink.OrderDynamicQR, "")); err != nil {
		t.Fatalf("order under duplicate delivery: %v", err)
	}
	if st, _ := e.refPay("O-DUP", ""); st != 200 {
		t.Fatal("pay")
	}
	if _, err := e.c.RefundVoucher(ctx, uplink.NewIdempotencyKey(), "VAAAAAAAAAAE2", uplink.VoucherRefundRequest{StaffID: "s1", Code: "161803"}); err != nil {
		t.Fatalf("refund under duplicate delivery: %v", err)
	}
	if len(e.vouchers()) != 1 || len(e.refOrders()) != 2 || len(e.payments()) != 1 {
		t.Fatalf("duplicates: %d vouchers, %d orders, %d payments", len(e.vouchers()), len(e.refOrders()), len(e.payments()))
	}
}
