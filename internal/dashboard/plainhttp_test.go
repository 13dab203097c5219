package dashboard_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestPlainHTTPOnLoopback: `make run` serves plain HTTP on 127.0.0.1, and
// the session cookie is Secure. Browsers count loopback addresses as
// secure origins and keep it there, so signing in works without TLS on a
// developer's machine (and only there).
func TestPlainHTTPOnLoopback(t *testing.T) {
	b := newBrowser(t)
	e := newEnv(t)
	plain := httptest.NewServer(e.srv.Config.Handler)
	defer plain.Close()
	b.do(chromedp.Navigate(plain.URL+"/flags"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), e.secret("viewer-token")), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("q")))
	b.mustSee("signed in over plain HTTP on 127.0.0.1", "Flags", "messenger-ig-interop")
	if who := get(b, chromedp.Text(chromedp.CSS("header .who"))); !strings.Contains(who, "vera") {
		t.Errorf("signed in as %q, want vera", who)
	}
	b.clean("signed in over plain HTTP on 127.0.0.1")
}
