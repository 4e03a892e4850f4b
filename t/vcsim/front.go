package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// faultSpec is what the `fault` control op arms: the next Count SOAP
// requests (optionally only those calling Method) get Mode.
type faultSpec struct {
	Mode    string `json:"mode"`
	Count   int    `json:"count"`
	Method  string `json:"method,omitempty"`
	DelayMs int    `json:"delayMs,omitempty"`
	Hit     int    `json:"hit"`
}

var faultModes = map[string]bool{
	"http500": true, "malformed-xml": true, "slow": true, "cut": true,
	"notauthenticated": true, "hang": true, "invalidargument": true,
}

// front is the public SOAP endpoint: fault injection, collector
// interception for history mode, and stop/start on the same port.
type front struct {
	mu        sync.Mutex
	addr      string
	tlsCfg    *tls.Config
	mux       http.Handler
	history   bool
	srv       *http.Server
	ln        net.Listener
	up        bool
	fault     *faultSpec
	stopped   chan struct{} // closed when the current server instance stops
	onRestart func()
	restarts  int
}

func newFront(ln net.Listener, tlsCfg *tls.Config, mux http.Handler, history bool) *front {
	return &front{addr: ln.Addr().String(), ln: ln, tlsCfg: tlsCfg, mux: mux, history: history}
}

func (f *front) url() string {
	scheme := "http"
	if f.tlsCfg != nil {
		scheme = "https"
	}
	return scheme + "://" + f.addr + "/sdk"
}

func (f *front) serve() {
	f.mu.Lock()
	defer f.mu.Unlock()
	ln := f.ln
	if f.tlsCfg != nil {
		ln = tls.NewListener(ln, f.tlsCfg)
	}
	f.srv = &http.Server{Handler: http.HandlerFunc(f.handle), ErrorLog: nil}
	f.stopped = make(chan struct{})
	f.up = true
	srv := f.srv
	go func() { _ = srv.Serve(ln) }()
}

func (f *front) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.up {
		return
	}
	f.up = false
	close(f.stopped)
	_ = f.srv.Close()
	f.ln = nil
}

func (f *front) isUp() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.up
}

// restart stops the server now (connections refused from here on), then
// after delay binds the same port again; inventory and events survive, the
// sessions do not (as after a real vCenter restart).
func (f *front) restart(delay time.Duration) error {
	f.stop()
	if f.onRestart != nil {
		f.onRestart()
	}
	f.mu.Lock()
	f.restarts++
	gen := f.restarts
	f.mu.Unlock()
	go func() {
		time.Sleep(delay)
		var ln net.Listener
		var err error
		for i := 0; i < 100; i++ {
			if ln, err = net.Listen("tcp", f.addr); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			fmt.Fprintf(stderr, "vcsim: restart: listen %s: %v\n", f.addr, err)
			return
		}
		f.mu.Lock()
		if f.up || gen != f.restarts {
			f.mu.Unlock()
			ln.Close()
			return
		}
		f.ln = ln
		f.mu.Unlock()
		f.serve()
	}()
	return nil
}

func (f *front) setFault(s *faultSpec) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = s
}

func (f *front) getFault() *faultSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fault == nil {
		return nil
	}
	c := *f.fault
	return &c
}

// takeFault returns the armed fault when it applies to this method, and
// consumes one use of it.
func (f *front) takeFault(method string) *faultSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.fault
	if s == nil || s.Count <= 0 {
		return nil
	}
	if s.Method != "" && s.Method != method {
		return nil
	}
	s.Count--
	s.Hit++
	c := *s
	return &c
}

// soapMethod returns the local name of the first element inside the SOAP Body.
func soapMethod(body []byte) string {
	d := xml.NewDecoder(bytes.NewReader(body))
	inBody := false
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok {
			if inBody {
				return se.Name.Local
			}
			if se.Name.Local == "Body" {
				inBody = true
			}
		}
	}
}

var thisEventManager = regexp.MustCompile(`(<(?:[A-Za-z0-9_]+:)?_this[^>]*>)\s*EventManager\s*(</(?:[A-Za-z0-9_]+:)?_this>)`)

func (f *front) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/sdk") {
		f.mux.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	method := soapMethod(body)

	if fs := f.takeFault(method); fs != nil {
		if f.applyFault(fs, w, r, body) {
			return
		}
	}

	// History mode: collectors are created by our own manager object,
	// which the simulator dispatches to by its moref.
	if f.history && (method == "CreateCollectorForEvents" || method == "QueryEvents") {
		body = thisEventManager.ReplaceAll(body, []byte("${1}"+historyManagerRef.Value+"${2}"))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	if method == "Login" {
		f.login(w, r, body)
		return
	}
	f.mux.ServeHTTP(w, r)
}

var loginUserName = regexp.MustCompile(`<(?:[A-Za-z0-9_]+:)?userName>([^<]*)<`)

// login passes Login through and, when it fails with InvalidLogin, posts
// the BadUsernameSessionEvent vCenter records (the simulator posts none).
func (f *front) login(w http.ResponseWriter, r *http.Request, body []byte) {
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	f.mux.ServeHTTP(rec, r)
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.code)
	w.Write(rec.buf.Bytes())
	if rec.code != http.StatusInternalServerError || !bytes.Contains(rec.buf.Bytes(), []byte("InvalidLogin")) {
		return
	}
	user := ""
	if m := loginUserName.FindSubmatch(body); m != nil {
		user = html.UnescapeString(string(m[1]))
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	postAs(context.Background(), user, &types.BadUsernameSessionEvent{IpAddress: ip})
}

const notAuthenticatedXML = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body>
<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>The session is not authenticated.</faultstring><detail><NotAuthenticatedFault xmlns="urn:vim25" xsi:type="NotAuthenticated"><object type="Folder">group-d1</object><privilegeId>System.View</privilegeId></NotAuthenticatedFault></detail></soapenv:Fault>
</soapenv:Body>
</soapenv:Envelope>`

// invalidArgumentXML is vCenter refusing a request's arguments.
const invalidArgumentXML = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body>
<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>A specified parameter was not correct: filter (injected)</faultstring><detail><InvalidArgumentFault xmlns="urn:vim25" xsi:type="InvalidArgument"><invalidProperty>filter</invalidProperty></InvalidArgumentFault></detail></soapenv:Fault>
</soapenv:Body>
</soapenv:Envelope>`

// applyFault serves the request with the fault; false means the request
// should go on to the simulator (slow mode, after its delay).
func (f *front) applyFault(fs *faultSpec, w http.ResponseWriter, r *http.Request, body []byte) bool {
	f.mu.Lock()
	stopped := f.stopped
	f.mu.Unlock()
	switch fs.Mode {
	case "http500":
		http.Error(w, "Internal Server Error (injected)", http.StatusInternalServerError)
	case "malformed-xml":
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><broken attr="x></soapenv:Body>`)
	case "notauthenticated":
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, notAuthenticatedXML)
	case "invalidargument":
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, invalidArgumentXML)
	case "slow":
		select {
		case <-time.After(time.Duration(fs.DelayMs) * time.Millisecond):
		case <-r.Context().Done():
			return true
		case <-stopped:
			return true
		}
		return false
	case "hang":
		// Held until the client gives up or the server stops.
		select {
		case <-r.Context().Done():
		case <-stopped:
		case <-time.After(10 * time.Minute):
		}
	case "cut":
		f.cut(w, r, body)
	}
	return true
}

// cut produces the real response, sends its headers and half its body,
// then closes the connection.
func (f *front) cut(w http.ResponseWriter, r *http.Request, body []byte) {
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	r.Body = io.NopCloser(bytes.NewReader(body))
	f.mux.ServeHTTP(rec, r)
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot cut", http.StatusInternalServerError)
		return
	}
	conn, bw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	out := rec.buf.Bytes()
	writeHead(bw, rec.code, len(out))
	bw.Write(out[:len(out)/2])
	bw.Flush()
}

func writeHead(bw *bufio.ReadWriter, code, length int) {
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %d\r\n\r\n",
		code, http.StatusText(code), length)
}

type recorder struct {
	header http.Header
	code   int
	buf    bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.buf.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }
