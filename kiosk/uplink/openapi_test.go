package uplink_test

import (
	"bufio"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"tongban/kiosk/refplatform"
	"tongban/kiosk/uplink"
)

// schemaInfo is what the test reads from one schema of openapi.yaml.
type schemaInfo struct {
	props    []string
	required []string
}

// readSchemas is a minimal reader for the layout of openapi.yaml (2-space
// indents, "required: [a, b]" on one line). It is no YAML parser, but it
// fails loudly if the layout it relies on changes.
func readSchemas(t *testing.T) (map[string]*schemaInfo, string) {
	t.Helper()
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatalf("read openapi.yaml: %v", err)
	}
	doc := string(raw)
	if !strings.HasPrefix(doc, "openapi: 3.1.") {
		t.Fatal("openapi.yaml is not OpenAPI 3.1")
	}
	out := map[string]*schemaInfo{}
	var cur *schemaInfo
	inSchemas, inProps := false, false
	sc := bufio.NewScanner(strings.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "\t") {
			t.Fatalf("tab in openapi.yaml: %q", line)
		}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case indent == 2 && trimmed == "schemas:":
			inSchemas = true
			continue
		case indent <= 2:
			inSchemas = false
		}
		if !inSchemas {
			continue
		}
		switch {
		case indent == 4 && strings.HasSuffix(trimmed, ":"):
			cur = &schemaInfo{}
			out[strings.TrimSuffix(trimmed, ":")] = cur
			inProps = false
		case indent == 6 && cur != nil:
			inProps = trimmed == "properties:"
			if rest, ok := strings.CutPrefix(trimmed, "required: "); ok {
				rest = strings.Trim(rest, "[]")
				for _, f := range strings.Split(rest, ",") {
					cur.required = append(cur.required, strings.TrimSpace(f))
				}
			}
		case indent == 8 && inProps && strings.HasSuffix(trimmed, ":"):
			cur.props = append(cur.props, strings.TrimSuffix(trimmed, ":"))
		}
	}
	return out, doc
}

// jsonFields lists a struct's JSON names; the ones without omitempty are
// the ones the Go side always sends.
func jsonFields(typ reflect.Type) (all, always []string) {
	for f := range typ.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") {
			always = append(always, name)
		}
	}
	return all, always
}

func TestOpenAPIMatchesTypes(t *testing.T) {
	schemas, doc := readSchemas(t)
	types := map[string]any{
		"Bill":            uplink.Bill{},
		"LastPayment":     uplink.LastPayment{},
		"Note":            uplink.Note{},
		"PaymentRequest":  uplink.PaymentRequest{},
		"Payment":         uplink.Payment{},
		"Health":          uplink.Health{},
		"ErrorBody":       uplink.ErrorBody{},
		"ErrorDetail":     uplink.ErrorDetail{},
		"Faults":          refplatform.Faults{},
		"ReceivedPayment": refplatform.ReceivedPayment{},
		// API v1.1
		"VoucherUse":           uplink.VoucherUse{},
		"VoucherRequest":       uplink.VoucherRequest{},
		"Voucher":              uplink.Voucher{},
		"VoucherRefundRequest": uplink.VoucherRefundRequest{},
		"OrderRequest":         uplink.OrderRequest{},
		"OrderActionRequest":   uplink.OrderActionRequest{},
		"Order":                uplink.Order{},
		"ReceivedVoucher":      refplatform.ReceivedVoucher{},
		"ReceivedOrder":        refplatform.ReceivedOrder{},
		"OrderPayRequest":      refplatform.OrderPayRequest{},
	}
	checkSchemas(t, schemas, types, "Faults", "OrderPayRequest")
	checkDocHas(t, doc,
		"/v1/bills/{utility}/{account}:", "/v1/payments:", "/v1/payments/{paymentId}:", "/v1/health:",
		"/ref/payments:", "/ref/accounts:", "/ref/faults:", "/verify/{paymentId}:",
		"Idempotency-Key", "Idempotent-Replayed", "X-Terminal-Id", "name: idempotencyKey",
		"enum: [water, electricity, gas, heating]", `pattern: "^[0-9]{6,20}$"`,
		// API v1.1
		"/v1/vouchers:", "/v1/vouchers/{voucherId}:", "/v1/vouchers/{voucherId}/refund:",
		"/v1/orders:", "/v1/orders/{orderId}:", "/v1/orders/{orderId}/reverse:", "/v1/orders/{orderId}/close:",
		"/ref/vouchers:", "/ref/orders:", "/ref/orders/{orderId}/pay:", "/pay/{orderId}:",
		"enum: [issued, redeemed, refunded]", "enum: [pending, paid, closed, reversed]",
		"enum: [dynamicQR, paymentCode]", "enum: [wechat, alipay, unionpay]", "enum: [cash, voucher]",
		`pattern: "^V[0-9A-Z]{12}$"`, `pattern: "^[0-9A-Z]{6,8}$"`,
	)
	// Every v1.1 error code is documented on a line that says it is final.
	checkCodesFinal(t, doc,
		uplink.CodeVoucherNotFound, uplink.CodeVoucherUnavailable, uplink.CodeVoucherMismatch, uplink.CodeVoucherConflict,
		uplink.CodeOrderNotFound, uplink.CodeOrderConflict, uplink.CodeOrderPaid, uplink.CodeTooSoon,
	)
	// The documented rules match the constants the terminal uses.
	for _, want := range []string{"every 5 s", "after 30 s unpaid", "within 15 s of `paidAt`"} {
		if !strings.Contains(doc, want) {
			t.Errorf("openapi.yaml lacks the order rule %q", want)
		}
	}
	if uplink.OrderQueryInterval != 5*time.Second || uplink.OrderUnpaidTimeout != 30*time.Second || uplink.ReverseGuard != 15*time.Second {
		t.Error("order timing constants differ from the documented 5 s / 30 s / 15 s")
	}

	// Every error code the platform may send is documented.
	for _, code := range []string{
		uplink.CodeBadRequest, uplink.CodeMissingTerminalID, uplink.CodeBadIdempotencyKey,
		uplink.CodeAccountNotFound, uplink.CodePaymentNotFound, uplink.CodeNotFound, uplink.CodeBillMismatch,
		uplink.CodeIdempotencyReused, uplink.CodeRateLimited, uplink.CodeInternal, uplink.CodeUnavailable, uplink.CodeTimeout,
		uplink.CodeVoucherNotFound, uplink.CodeVoucherUnavailable, uplink.CodeVoucherMismatch, uplink.CodeVoucherConflict,
		uplink.CodeOrderNotFound, uplink.CodeOrderConflict, uplink.CodeOrderPaid, uplink.CodeTooSoon,
	} {
		if !strings.Contains(doc, code) {
			t.Errorf("error code %q not documented", code)
		}
	}
}
