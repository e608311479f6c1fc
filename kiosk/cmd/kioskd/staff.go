package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"

	qrcode "github.com/skip2/go-qrcode"

	"tongban/kiosk/refplatform"
)

// cmdPlatformStaff prints a staff member's badge QR from a running
// reference platform, and saves it as a PNG to print or show on a phone.
func cmdPlatformStaff(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("platform staff", flag.ContinueOnError)
	data := fs.String("data", "data", "data folder of a running platform")
	base := fs.String("url", "", "platform URL (default: read from the data folder)")
	staff := fs.String("id", refplatform.DemoStaff[0].StaffID, "staff id (the demo staff are listed in kiosk/refplatform/README.md)")
	out := fs.String("png", "", "save the badge QR here (default: <data>/staff-<id>.png; \"-\": do not save)")
	asJSON := fs.Bool("json", false, "print the reply as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := platformURL(*base, *data)
	if err != nil {
		return err
	}
	body, err := platformCall(ctx, u, http.MethodPost, "/ref/staff/"+url.PathEscape(*staff)+"/badge", nil, http.StatusOK, 1<<20)
	if err != nil {
		return err
	}
	b, done, err := platformReply[refplatform.StaffBadgeIssued](body, *asJSON, "badge reply")
	if done || err != nil {
		return err
	}
	q, err := qrcode.New(b.QR, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("QR: %w", err)
	}
	fmt.Print(q.ToSmallString(false))
	fmt.Printf("staff:     %s %s (%s)\n", b.StaffID, b.Name, b.Site)
	fmt.Printf("badge:     serial %s\n", b.Serial)
	fmt.Printf("payload:   %s\n", b.QR)
	if *out != "-" {
		path := *out
		if path == "" {
			path = filepath.Join(*data, "staff-"+b.StaffID+".png")
		}
		if err := q.WriteFile(320, path); err != nil {
			return fmt.Errorf("save badge QR: %w", err)
		}
		fmt.Printf("saved:     %s\n", path)
	}
	fmt.Printf("\nhold it to the terminal's scanner, or run:\n  kioskd sim scan '%s' -data %s\nthen type the PIN on the screen.\n", b.QR, *data)
	return nil
}
