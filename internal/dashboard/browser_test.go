package dashboard_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ramp-flags/ramp/internal/dashboard"
)

var update = flag.Bool("update", false, "write the dashboard's screenshots to docs/screenshots (also RAMP_SCREENSHOTS=1)")

// chromium finds Debian's chromium (or another Chrome): RAMP_CHROMIUM, then
// the usual names. Without one the browser tests skip, unless
// RAMP_REQUIRE_CHROMIUM=1 (CI) makes them fail.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a browser")
	}
	candidates := []string{os.Getenv("RAMP_CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if requireChromium() {
		t.Fatal("RAMP_REQUIRE_CHROMIUM=1 but no chromium was found (apt-get install -y chromium, or set RAMP_CHROMIUM)")
	}
	t.Skip("no chromium on PATH: the browser tests skip (apt-get install -y chromium; RAMP_REQUIRE_CHROMIUM=1 makes this a failure)")
	return ""
}

// browser is a headless Chromium tab that records every console error,
// uncaught exception, log entry of level error (CSP violations among
// them) and securitypolicyviolation event.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string
}

// violationProbe listens to securitypolicyviolation events in every page.
// It is injected through the DevTools protocol, which the page's policy
// does not govern, and runs before the page's own content.
const violationProbe = `window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));`

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("ignore-certificate-errors", true), // the test server's certificate
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 800),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // CI runs as root
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t}
	ctx, cancelCtx := chromedp.NewContext(alloc, chromedp.WithListener(b.listen))
	ctx, cancelTimeout := context.WithTimeout(ctx, 10*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	b.ctx = ctx
	// Start the browser and attach the tab under the test's context (a
	// step's shorter context would end them with the step).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: violationProbe}); err != nil {
		t.Fatal(err)
	}
	return b
}

// listen records what goes wrong in the tab. It runs in the tab's loop.
func (b *browser) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			var args []string
			for _, a := range ev.Args {
				args = append(args, a.Description+string(a.Value))
			}
			b.problem("console %s: %s", ev.Type, strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		b.problem("exception: %s", ev.ExceptionDetails.Text)
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Source == cdplog.EntrySourceSecurity || ev.Entry.Source == cdplog.EntrySourceViolation {
			b.problem("log %s/%s: %s %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
		}
	}
}

func (b *browser) problem(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

// stepPatience bounds one step (a navigation, a click and the wait for
// what it shows): far longer than a step takes, so that a failing step
// fails without waiting for the whole test's deadline.
const stepPatience = 60 * time.Second

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepPatience)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

// get runs an action that returns a value.
func get[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepPatience)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

// clean fails the test if anything went wrong on the page so far: a
// console error, an exception, a log error (a refused load, a CSP
// violation) or a securitypolicyviolation event. expect lists the
// problems a step causes on purpose (a 403 page's "Failed to load
// resource"), matched as substrings.
func (b *browser) clean(step string, expect ...string) {
	b.t.Helper()
	for _, p := range b.take() {
		expected := false
		for _, e := range expect {
			expected = expected || strings.Contains(p, e)
		}
		if !expected {
			b.t.Errorf("%s: %s", step, p)
		}
	}
}

// take returns and forgets what went wrong on the page so far.
func (b *browser) take() []string {
	b.t.Helper()
	violations := get(b, chromedp.Evaluate[[]string](`window.__violations || []`))
	b.mu.Lock()
	defer b.mu.Unlock()
	problems := append(b.problems, violations...)
	b.problems = nil
	for i := range violations {
		problems[len(problems)-len(violations)+i] = "securitypolicyviolation: " + violations[i]
	}
	return problems
}

// waitFor waits until the page's address contains s: for a step whose
// target page shares its elements with the page it leaves.
func (b *browser) waitFor(s string) {
	b.t.Helper()
	deadline := time.Now().Add(stepPatience)
	for {
		loc := get(b, chromedp.Location())
		if strings.Contains(loc, s) {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the page stayed at %s, waiting for %q", loc, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// text returns the visible text of the page's main element.
func (b *browser) text() string {
	b.t.Helper()
	return get(b, chromedp.Text(chromedp.CSS("main")))
}

func (b *browser) mustSee(step string, wants ...string) {
	b.t.Helper()
	got := b.text()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			b.t.Errorf("%s: the page lacks %q:\n%s", step, w, got)
		}
	}
}

// TestBrowserSeesViolations shows that the browser harness notices what
// TestBrowser asserts never happens: a page under the dashboard's policy
// with an inline style, an inline script and a script that logs an error.
func TestBrowserSeesViolations(t *testing.T) {
	b := newBrowser(t)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/log.js" {
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, `console.error("planted error")`)
			return
		}
		w.Header().Set("Content-Security-Policy", dashboard.ContentSecurityPolicy)
		fmt.Fprint(w, `<!doctype html><title>bad</title><main><p style="color:red">styled</p><script>document.title="ran"</script><script src="/log.js"></script></main>`)
	}))
	defer bad.Close()
	b.do(chromedp.Navigate(bad.URL), chromedp.WaitVisible(chromedp.CSS("main p")))
	deadline := time.Now().Add(30 * time.Second)
	var seen []string
	for time.Now().Before(deadline) {
		seen = append(seen, b.take()...)
		all := strings.Join(seen, "\n")
		if strings.Contains(all, "style-src") && strings.Contains(all, "script-src") && strings.Contains(all, "planted error") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("the harness did not see the inline style, the inline script and the console error:\n%s", strings.Join(seen, "\n"))
}

// TestBrowser walks the dashboard in headless Chromium over HTTPS on a
// loopback address, against the demo scenario in a real SQLite file, as
// the issue lists: sign in, find a flag, advance a rollout after
// confirming (and see it on the page and in `ramp rollout status`), be
// refused a cross-site form post, throw the kill switch, see the audit
// entry, be refused an action as a viewer; no console error and no CSP
// violation on any page.
func TestBrowser(t *testing.T) {
	b := newBrowser(t)
	e := newEnv(t)
	e.seedExperiment()
	base := e.srv.URL

	// Sign in: the flags page sends us to the sign-in page and back.
	b.do(chromedp.Navigate(base+"/flags"), chromedp.WaitVisible(chromedp.ID("token")))
	b.clean("sign-in page")
	b.do(chromedp.SendKeys(chromedp.ID("token"), e.secret("editor-token")), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("q")))
	b.mustSee("flags page", "Flags", interop)
	b.clean("flags page")

	// Find a flag by searching, open it.
	b.do(chromedp.SendKeys(chromedp.ID("q"), "interop"), chromedp.Submit(chromedp.ID("q")))
	b.waitFor("?q=interop") // the results, not the page the search left
	b.do(chromedp.Click(chromedp.CSS(`a[href="/flags/`+interop+`"]`)), chromedp.WaitVisible(chromedp.ID("variants-h")))
	b.mustSee("flag page", "Kill switch", "Rules, in order", "us-10")
	b.clean("flag page")

	// Why does u1 get what it gets?
	b.do(chromedp.SendKeys(chromedp.ID("user"), "u1"), chromedp.SendKeys(chromedp.ID("region"), "US"),
		chromedp.Submit(chromedp.ID("user")), chromedp.WaitVisible(chromedp.ID("explanation")))
	b.mustSee("explanation", "bucketing:", "Rollout: live stage us-10")
	b.clean("explanation")

	// Advance the rollout after confirming.
	b.do(chromedp.Click(chromedp.CSS(`a[href="/rollouts/`+interop+`"]`)), chromedp.WaitVisible(chromedp.ID("tl-h")),
		chromedp.Click(chromedp.CSS(`a[href="/rollouts/`+interop+`/advance"]`)), chromedp.WaitVisible(chromedp.CSS("main form[method=post] button")))
	b.mustSee("advance confirmation", "What will change", "Start stage us-50", "region US", "users listed in cohorts")
	b.clean("advance confirmation")
	b.do(chromedp.Click(chromedp.CSS(`main form[method=post] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(".notice")))
	b.mustSee("after advance", "Rollout advanced.", "us-50")
	b.clean("after advance")
	live := get(b, chromedp.Text(chromedp.CSS(".stage.live strong")))
	if !strings.Contains(live, "us-50") {
		t.Errorf("the timeline's live stage is %q, want us-50", live)
	}
	if out := e.rampCLI("rollout", "status", interop); !strings.Contains(out, "us-50") {
		t.Errorf("ramp rollout status does not show us-50:\n%s", out)
	}

	// A cross-site page posting a form to the dashboard is refused, though
	// the browser is signed in.
	b.do(chromedp.Navigate(base+"/flags/"+interop+"/kill-switch?to=off"), chromedp.WaitVisible(chromedp.CSS("main form[method=post]")))
	version := get(b, chromedp.AttributeValue(chromedp.CSS(`input[name=version]`), "value")).Value
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>evil</title><form method="post" action="%s/flags/%s/kill-switch">
<input type="hidden" name="version" value="%s"><input type="hidden" name="to" value="off"><button id="go">win a prize</button></form>`, base, interop, version)
	}))
	defer evil.Close()
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1) // another site than 127.0.0.1
	b.do(chromedp.Navigate(evilURL), chromedp.WaitVisible(chromedp.ID("go")), chromedp.Click(chromedp.ID("go")),
		chromedp.WaitVisible(chromedp.CSS("main section.problem")))
	b.mustSee("cross-site post", "cross-origin request refused")
	b.clean("cross-site post", "status of 403")
	if info, err := e.admin.Flag(context.Background(), interop); err != nil || !info.Flag.Enabled {
		t.Fatalf("a cross-site post threw the kill switch (%v)", err)
	}

	// Throw the kill switch from the flag's page.
	b.do(chromedp.Navigate(base+"/flags/"+interop), chromedp.WaitVisible(chromedp.ID("kill-h")),
		chromedp.Click(chromedp.CSS(`a[href="/flags/`+interop+`/kill-switch?to=off"]`)), chromedp.WaitVisible(chromedp.CSS("main form[method=post]")))
	b.mustSee("kill switch confirmation", "Every context gets the default variant, off")
	b.do(chromedp.Click(chromedp.CSS(`main form[method=post] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(".notice")))
	b.mustSee("after kill switch", "Kill switch thrown", "killed")
	b.clean("after kill switch")

	// The audit log shows who did it, with its diff.
	b.do(chromedp.Click(chromedp.CSS(`a[href="/audit?flag=`+interop+`"]`)), chromedp.WaitVisible(chromedp.CSS("ol.audit")))
	b.mustSee("audit log", "eddie", "flag.disable", "rollout.advance", "enabled: true → false")
	b.do(chromedp.Click(chromedp.CSS("ol.audit details summary")), chromedp.WaitVisible(chromedp.CSS("pre.diff")))
	b.clean("audit log")

	// A viewer sees no action and is refused at the action's address.
	b.do(chromedp.Click(chromedp.CSS("header form.who button")), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), e.secret("viewer-token")), chromedp.Submit(chromedp.ID("token")), chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.Navigate(base+"/rollouts/"+interop), chromedp.WaitVisible(chromedp.ID("tl-h")))
	b.mustSee("viewer's rollout page", "may look, not act")
	buttons := get(b, chromedp.Evaluate[int](`document.querySelectorAll('main a.button, main form button').length`))
	if buttons != 0 {
		t.Errorf("a viewer sees %d action buttons", buttons)
	}
	b.clean("viewer's rollout page")
	b.do(chromedp.Navigate(base+"/rollouts/"+interop+"/rollback"), chromedp.WaitVisible(chromedp.CSS("main section.problem")))
	b.mustSee("viewer refused", "Not allowed", "may not write")
	b.clean("viewer refused", "status of 403")

	// Every other page, clean.
	for _, path := range []string{"/rollouts", "/experiments", "/experiments/dm-handoff-vs-inline", "/audit"} {
		b.do(chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
		b.clean(path)
	}

}

// TestScreenshots writes the screenshots with -update or
// RAMP_SCREENSHOTS=1, of the demo scenario as `make run` leaves it (with
// an experiment's data), checking each page stays clean at every size.
func TestScreenshots(t *testing.T) {
	if !*update && os.Getenv("RAMP_SCREENSHOTS") != "1" {
		t.Skip("writes docs/screenshots only with -update or RAMP_SCREENSHOTS=1")
	}
	e := newEnv(t)
	e.seedExperiment()
	screenshots(t, e)
}

// The screenshots: each page at a laptop's and a phone's width, in light
// and dark, written to docs/screenshots for people to look at (and the
// README to show).
func screenshots(t *testing.T, e *env) {
	b := newBrowser(t)
	base := e.srv.URL
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.ID("token")))
	shoot(t, b, dir, "login", base+"/login?next=%2Fflags", "#token")
	b.do(chromedp.SendKeys(chromedp.ID("token"), e.secret("admin-token")), chromedp.Submit(chromedp.ID("token")), chromedp.WaitVisible(chromedp.ID("q")))
	for _, p := range []struct{ name, path, wait string }{
		{"flags", "/flags", "#q"},
		{"flag", "/flags/" + interop + "?user=u1&region=US", "#explanation"},
		{"rollouts", "/rollouts", "main h1"},
		{"rollout", "/rollouts/" + interop, "#tl-h"},
		{"confirm-advance", "/rollouts/" + interop + "/advance", "main h1"},
		{"audit", "/audit", "ol.audit"},
		{"experiments", "/experiments", "main h1"},
		{"experiment", "/experiments/dm-handoff-vs-inline", "#srm-h"},
	} {
		shoot(t, b, dir, p.name, base+p.path, p.wait)
	}
}

func shoot(t *testing.T, b *browser, dir, name, url, wait string) {
	t.Helper()
	for _, size := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"laptop", 1280, 800, false}, {"phone", 390, 844, true}} {
		for _, scheme := range []string{"light", "dark"} {
			if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
				Width: size.width, Height: size.height, DeviceScaleFactor: 1, Mobile: size.mobile}); err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
				t.Fatal(err)
			}
			b.do(chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(wait)))
			png := get(b, chromedp.FullScreenshot(100))
			b.clean("screenshot " + name)
			file := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.png", name, size.name, scheme))
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
