package emulator

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
)

// Canned serves every request with status and body, counting requests: for
// tests of how a client reads answers no emulated API gives. close stops it.
func Canned(status int, body string) (url string, calls *atomic.Int32, close func()) {
	calls = new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	return srv.URL, calls, srv.Close
}
