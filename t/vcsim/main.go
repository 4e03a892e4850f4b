// vcsim: the vCenter simulator test peer for vcpipe.
//
// It runs govmomi's simulator (VPX model) behind a front end that can
// inject faults and restart, plus a control API on a second loopback port
// that performs real operations so the simulator produces its own events.
// With -history, event collectors behave like real vCenter's (whole
// history, oldest first, time filters, key gaps and int32 wrap-around).
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"text/template"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

type readyLine struct {
	URL          string `json:"url"`
	Ctl          string `json:"ctl"`
	CAFile       string `json:"cafile"`
	Username     string `json:"username"`
	Password     string `json:"password"`
	InstanceUUID string `json:"instanceUuid"`
	History      bool   `json:"history"`
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "SOAP listen address (host:port)")
	ctlListen := flag.String("ctl", "127.0.0.1:0", "control API listen address")
	useTLS := flag.Bool("tls", false, "serve HTTPS with a generated CA-signed certificate")
	caFile := flag.String("cafile", "", "where to write the CA certificate (PEM); default a temp file")
	user := flag.String("username", "administrator@vsphere.local", "the only user name accepted")
	pass := flag.String("password", "VMware1!", "the only password accepted")
	history := flag.Bool("history", false, "serve event collectors with real vCenter semantics")
	verbose := flag.Bool("v", false, "log simulator internals to stderr")
	flag.Parse()

	if !*verbose {
		log.SetOutput(nopWriter{})
	}
	errlog := log.New(os.Stderr, "vcsim: ", 0)

	p, err := start(*listen, *ctlListen, *useTLS, *caFile, *user, *pass, *history)
	if err != nil {
		errlog.Fatal(err)
	}

	ready := readyLine{
		URL:          p.front.url(),
		Ctl:          "http://" + p.ctlAddr + "",
		CAFile:       p.caFile,
		Username:     *user,
		Password:     *pass,
		InstanceUUID: p.content.About.InstanceUuid,
		History:      *history,
	}
	line, _ := json.Marshal(ready)
	fmt.Printf("%s\n", line)
	_ = os.Stdout.Sync()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	p.shutdown()
}

type nopWriter struct{}

func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }

// peer holds everything one running simulator needs.
type peer struct {
	model    *simulator.Model
	internal *simulator.Server // unfaulted SOAP endpoint used by the control client
	front    *front
	ctl      *control
	obs      *observer
	hist     *historyManager
	content  types.ServiceContent
	caFile   string
	tmpCA    bool
	ctlAddr  string
	user     string
	password string
}

func start(listen, ctlListen string, useTLS bool, caFile, user, pass string, history bool) (*peer, error) {
	p := &peer{user: user, password: pass}

	var tlsCfg *tls.Config
	if useTLS {
		cfg, caPEM, err := newTLSConfig()
		if err != nil {
			return nil, err
		}
		tlsCfg = cfg
		if caFile == "" {
			f, err := os.CreateTemp("", "vcsim-ca-*.pem")
			if err != nil {
				return nil, err
			}
			caFile = f.Name()
			f.Close()
			p.tmpCA = true
		}
		if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
			return nil, err
		}
		p.caFile = caFile
	}

	// The public listener is bound first so its address is known before
	// the simulator records its own URL.
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %v", listen, err)
	}

	p.model = simulator.VPX()
	if err := p.model.Create(); err != nil {
		return nil, err
	}
	repairEventTemplates()
	// Listen.User makes the session manager accept exactly this login
	// (and reject anything else with InvalidLogin).
	p.model.Service.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword(user, pass)}
	p.internal = p.model.Service.NewServer()
	p.content = simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance).Content
	rootFolderRef = p.content.RootFolder

	publicHost := ln.Addr().String()
	// Clients are redirected to ServiceHostName (e.g. for tickets): point
	// them at the public front end rather than the internal endpoint.
	simulator.Map.SessionManager().ServiceHostName = publicHost
	if tlsCfg != nil {
		cert := tlsCfg.Certificates[0].Certificate[0]
		simulator.Map.SessionManager().TLSCert = func() string { return b64(cert) }
	}

	ctx := context.Background()
	cl, err := newControlClient(ctx, p.internal.URL, user, pass)
	if err != nil {
		return nil, fmt.Errorf("control client: %v", err)
	}

	p.obs, err = newObserver(ctx, cl, history)
	if err != nil {
		return nil, err
	}
	if history {
		p.hist = newHistoryManager(p.obs)
		installHistoryPC(p.content)
		p.obs.hist = p.hist
	}

	p.front = newFront(ln, tlsCfg, p.model.Service.ServeMux, p.hist != nil)
	p.front.onRestart = func() { p.ctl.terminateSessions(ctx) }
	p.front.serve()

	p.ctl, err = newControl(ctlListen, p, cl)
	if err != nil {
		return nil, err
	}
	p.ctlAddr = p.ctl.addr
	return p, nil
}

func (p *peer) shutdown() {
	p.ctl.close()
	p.front.stop()
	p.internal.CloseClientConnections()
	p.internal.Close()
	p.model.Remove()
	if p.tmpCA {
		os.Remove(p.caFile)
	}
}

// Wait until ctx is done or d elapsed; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

var unclosedAction = regexp.MustCompile(`(\{\{[^{}]*\})([^}]|$)`)

// repairEventTemplates fixes message templates in govmomi 0.24's event
// descriptions that do not parse (e.g. VmMigratedEvent's "{{.SourceHost.Name},"),
// which make the simulator's PostEvent panic for those classes.
func repairEventTemplates() {
	em := simulator.Map.EventManager()
	for i := range em.Description.EventInfo {
		info := &em.Description.EventInfo[i]
		if _, err := template.New("").Parse(info.FullFormat); err == nil {
			continue
		}
		fixed := unclosedAction.ReplaceAllString(info.FullFormat, "${1}}${2}")
		if _, err := template.New("").Parse(fixed); err != nil {
			fixed = ""
		}
		info.FullFormat = fixed
	}
}
