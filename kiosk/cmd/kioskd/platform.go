package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"text/tabwriter"

	"tongban/kiosk/refplatform"
)

func cmdPlatform(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "payments" {
		return cmdPlatformPayments(ctx, args[1:])
	}
	if len(args) > 0 && args[0] == "token" {
		return cmdPlatformToken(ctx, args[1:]) // provision.go
	}
	if len(args) > 0 && args[0] == "staff" {
		return cmdPlatformStaff(ctx, args[1:]) // staff.go: a staff badge QR
	}
	fs := flag.NewFlagSet("platform", flag.ContinueOnError)
	data := fs.String("data", "data", "data folder (the platform keeps platform/refplatform.db in it)")
	listen := fs.String("listen", "127.0.0.1:8790", "listen address (loopback)")
	public := fs.String("public-url", "", "base URL printed in receipt QR codes (default: the listen address)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	tlsListen := fs.String("tls-listen", "127.0.0.1:8793", "TLS address for enrollment and pinned, signed uplink (loopback; empty: none)")
	requireSig := fs.Bool("require-signatures", false, "refuse unsigned requests from terminals that are not enrolled")
	national := fs.Bool("national-crypto", false, "require SM2 keys and signatures of every terminal")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := filepath.Join(*data, "platform")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	log := newLogger(os.Stderr, "platform", *level)
	srv, err := refplatform.New(refplatform.Options{DataDir: dir, PublicURL: *public, Logger: log,
		RequireSignatures: *requireSig, NationalCrypto: *national})
	if err != nil {
		return err
	}
	defer srv.Close()
	defer servePlatformTLS(ctx, srv, *tlsListen, *data, log)() // provision.go
	return srv.ListenAndServe(ctx, *listen, func(addr string) {
		log.Info("reference county platform ready", "url", "http://"+addr)
		if err := writeAddr(*data, "platform", addr); err != nil {
			log.Error("write address file", "err", err)
		}
	})
}

// platformURL is the -url flag of a platform command, else the address a
// running platform wrote into its data folder.
func platformURL(base, data string) (string, error) {
	if base != "" {
		return base, nil
	}
	a, err := readAddr(data, "platform")
	if err != nil {
		return "", err
	}
	return "http://" + a, nil
}

func cmdPlatformPayments(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("platform payments", flag.ContinueOnError)
	data := fs.String("data", "data", "data folder of a running platform")
	base := fs.String("url", "", "platform URL (default: read from the data folder)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := platformURL(*base, *data)
	if err != nil {
		return err
	}
	body, err := platformCall(ctx, u, http.MethodGet, "/ref/payments", nil, http.StatusOK, 64<<20)
	if err != nil {
		return err
	}
	received, done, err := platformReply[[]refplatform.ReceivedPayment](body, *asJSON, "payment list")
	if done || err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCEPTED\tPAYMENT\tTERMINAL\tUTILITY\tACCOUNT\tAMOUNT\tTO BILL\tPREPAID\tKEY")
	for _, r := range received {
		p := r.Payment
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%s\n", p.AcceptedAt.Local().Format("2006-01-02 15:04:05"),
			p.PaymentID, p.TerminalID, p.Utility, p.Account, float64(p.Amount)/100, float64(p.AppliedToBill)/100,
			float64(p.PrepaidCredit)/100, p.IdempotencyKey)
	}
	tw.Flush()
	fmt.Printf("%d payment(s)\n", len(received))
	return nil
}
