package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
)

func TestHelpPrintsUsageAndSucceeds(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		var out bytes.Buffer
		if err := run([]string{arg}, &out); err != nil {
			t.Errorf("run %s: %v, want success", arg, err)
		}
		if !strings.Contains(out.String(), "usage: ecs-emulator") || !strings.Contains(out.String(), "-instances") {
			t.Errorf("run %s printed %q, want the usage with the flags", arg, out.String())
		}
	}
}

func TestBadFlagFails(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"-nope"}, &out)
	if err == nil || !strings.Contains(err.Error(), "-nope") || !strings.Contains(err.Error(), "-h") {
		t.Errorf("run -nope: %v, want an error naming the flag and pointing at -h", err)
	}
}

// TestEmptyViewsAreEmptyLists: a client reading the views before anything
// happened gets [] (a list), not null.
func TestEmptyViewsAreEmptyLists(t *testing.T) {
	srv := httptest.NewServer(emulator.New(emulator.Config{}))
	defer srv.Close()
	for _, view := range []string{"/_emulator/orders", "/_emulator/requests", "/_emulator/instances"} {
		resp, err := http.Get(srv.URL + view)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("GET %s: HTTP %d %q %v, want 200 []", view, resp.StatusCode, body, err)
		}
	}
}
