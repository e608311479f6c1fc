package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// platformCall makes one request of the platform commands (kioskd
// platform …) to a running reference platform at base, 5 s at most, and
// returns the reply's body (up to limit bytes). A body to send is JSON. A
// status other than want is an error with the platform's own words.
func platformCall(ctx context.Context, base, method, path string, body []byte, want int, limit int64) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(cctx, method, strings.TrimSuffix(base, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("platform at %s: %w", base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("platform at %s: %w", base, err)
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("platform: %s: %s", resp.Status, bytes.TrimSpace(raw))
	}
	return raw, nil
}

// platformReply is a platform command's reply decoded into T (what names
// it in an error), or, with asJSON, the reply printed as it came (done).
func platformReply[T any](raw []byte, asJSON bool, what string) (v T, done bool, err error) {
	if asJSON {
		_, err := os.Stdout.Write(raw)
		return v, true, err
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, false, fmt.Errorf("platform: unreadable %s: %w", what, err)
	}
	return v, false, nil
}
