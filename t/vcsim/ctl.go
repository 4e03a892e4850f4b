package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

var stderr = os.Stderr

func newControlClient(ctx context.Context, u *url.URL, user, pass string) (*vim25.Client, error) {
	sc := soap.NewClient(u, true)
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, err
	}
	if err := session.NewManager(c).Login(ctx, url.UserPassword(user, pass)); err != nil {
		return nil, err
	}
	return c, nil
}

// control is the HTTP control API. Ops run one at a time so the events an
// op reports are (nearly always) the ones it caused.
type control struct {
	p    *peer
	c    *vim25.Client
	srv  *http.Server
	addr string
	mu   sync.Mutex
	stop chan struct{}
	ops  map[string]func(context.Context, params) (map[string]interface{}, error)
}

type params map[string]json.RawMessage

type opError struct {
	code int
	msg  string
}

func (e *opError) Error() string { return e.msg }

func badParam(format string, a ...interface{}) error {
	return &opError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

func (p params) str(k, def string) string {
	raw, ok := p[k]
	if !ok {
		return def
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

func (p params) int(k string, def int64) (int64, error) {
	s := p.str(k, "")
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, badParam("%s: not an integer: %q", k, s)
	}
	return n, nil
}

func (p params) bool(k string, def bool) bool {
	s := p.str(k, "")
	switch s {
	case "1", "true", "yes":
		return true
	case "0", "false", "no":
		return false
	}
	return def
}

func newControl(listen string, p *peer, c *vim25.Client) (*control, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("ctl listen %s: %v", listen, err)
	}
	k := &control{p: p, c: c, addr: ln.Addr().String()}
	k.ops = map[string]func(context.Context, params) (map[string]interface{}, error){
		"status":                 k.opStatus,
		"events":                 k.opEvents,
		"power-on":               k.vmTask("PowerOn"),
		"power-off":              k.vmTask("PowerOff"),
		"suspend":                k.vmTask("Suspend"),
		"reset":                  k.opReset,
		"shutdown-guest":         k.opShutdownGuest,
		"reboot-guest":           k.opRebootGuest,
		"create-vm":              k.opCreateVM,
		"destroy-vm":             k.opDestroyVM,
		"rename-vm":              k.opRenameVM,
		"reconfigure-vm":         k.opReconfigureVM,
		"clone-vm":               k.opCloneVM,
		"migrate-vm":             k.opMigrateVM,
		"host-enter-maintenance": k.opHostMaintenance(true),
		"host-exit-maintenance":  k.opHostMaintenance(false),
		"host-disconnect":        k.opHostConnection(false),
		"host-reconnect":         k.opHostConnection(true),
		"login":                  k.opLogin,
		"create-folder":          k.opCreateFolder,
		"destroy-folder":         k.opDestroyFolder,
		"create-datacenter":      k.opCreateDatacenter,
		"destroy-datacenter":     k.opDestroyDatacenter,
		"post-event":             k.opPostEvent,
		"post-eventex":           k.opPostEventEx,
		"post-extendedevent":     k.opPostExtendedEvent,
		"post-burst":             k.opPostBurst,
		"terminate-sessions":     k.opTerminateSessions,
		"sessions":               k.opSessions,
		"fault":                  k.opFault,
		"restart":                k.opRestart,
		"skip-keys":              k.opSkipKeys,
		"set-next-key":           k.opSetNextKey,
		"withhold":               k.opWithhold,
	}
	k.srv = &http.Server{Handler: http.HandlerFunc(k.handle)}
	k.stop = make(chan struct{})
	go func() { _ = k.srv.Serve(ln) }()
	if p.hist != nil {
		go k.pruneCollectors(k.stop)
	}
	return k, nil
}

func (k *control) close() {
	close(k.stop)
	_ = k.srv.Close()
}

func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// parseParams accepts a JSON object body, or form/query parameters whose
// values are taken as JSON when they parse as an object, array or number.
func parseParams(r *http.Request) (params, error) {
	p := params{}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") && len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, badParam("body: %v", err)
		}
		return p, nil
	}
	vals := r.URL.Query()
	if len(body) > 0 {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, badParam("form: %v", err)
		}
		for k, v := range form {
			vals[k] = v
		}
	}
	for k, v := range vals {
		s := v[len(v)-1]
		t := strings.TrimSpace(s)
		if (strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")) && json.Valid([]byte(t)) {
			p[k] = json.RawMessage(t)
		} else {
			b, _ := json.Marshal(s)
			p[k] = b
		}
	}
	return p, nil
}

type evRef struct {
	Key   int32  `json:"key"`
	Class string `json:"class"`
}

func (k *control) handle(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/op"), "/")
	op, ok := k.ops[name]
	if !ok {
		names := make([]string, 0, len(k.ops))
		for n := range k.ops {
			names = append(names, n)
		}
		sort.Strings(names)
		writeJSON(w, http.StatusNotFound, map[string]interface{}{"error": fmt.Sprintf("unknown op %q", name), "ops": names})
		return
	}
	p, err := parseParams(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mark := k.p.obs.mark()
	res, err := op(ctx, p)
	evs := k.p.obs.since(mark)
	if err != nil {
		code := http.StatusInternalServerError
		var oe *opError
		if errors.As(err, &oe) {
			code = oe.code
		}
		writeJSON(w, code, map[string]interface{}{"op": name, "error": err.Error(), "events": refs(evs)})
		return
	}
	if res == nil {
		res = map[string]interface{}{}
	}
	res["op"] = name
	res["count"] = len(evs)
	if len(evs) > 0 {
		res["firstKey"] = evs[0].GetEvent().Key
		res["lastKey"] = evs[len(evs)-1].GetEvent().Key
	}
	if len(evs) <= 1000 {
		res["events"] = refs(evs)
	}
	writeJSON(w, http.StatusOK, res)
}

func refs(evs []types.BaseEvent) []evRef {
	out := make([]evRef, 0, len(evs))
	for _, ev := range evs {
		out = append(out, evRef{ev.GetEvent().Key, className(ev)})
	}
	return out
}

func (k *control) finder(ctx context.Context) (*find.Finder, error) {
	f := find.NewFinder(k.c, true)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		return nil, err
	}
	f.SetDatacenter(dc)
	return f, nil
}

func (k *control) vm(ctx context.Context, p params, def string) (*object.VirtualMachine, error) {
	name := p.str("vm", def)
	ref := findByName("VirtualMachine", name)
	if ref == nil {
		return nil, badParam("no VM named %q", name)
	}
	return object.NewVirtualMachine(k.c, *ref), nil
}

func (k *control) host(ctx context.Context, p params, def string) (*object.HostSystem, error) {
	name := p.str("host", def)
	ref := findByName("HostSystem", name)
	if ref == nil {
		return nil, badParam("no host named %q", name)
	}
	return object.NewHostSystem(k.c, *ref), nil
}

func taskDone(t *object.Task, err error) error {
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return t.Wait(ctx)
}

// post posts events through the SOAP PostEvent call as the control user.
func (k *control) post(ctx context.Context, evs ...types.BaseEvent) error {
	m := event.NewManager(k.c)
	for _, ev := range evs {
		if err := m.PostEvent(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

func (k *control) vmEvent(vmName string, ev types.BaseEvent) (types.BaseEvent, error) {
	t, err := resolveTarget(vmName, "")
	if err != nil {
		return nil, err
	}
	t.fillBase(ev)
	return ev, nil
}

func (k *control) opStatus(ctx context.Context, p params) (map[string]interface{}, error) {
	res := map[string]interface{}{
		"url": k.p.front.url(), "up": k.p.front.isUp(), "history": k.p.hist != nil,
		"fault": k.p.front.getFault(),
	}
	if k.p.hist != nil {
		res["collectors"] = k.p.hist.collectorCount()
	}
	return res, nil
}

func (k *control) opEvents(ctx context.Context, p params) (map[string]interface{}, error) {
	all := k.p.obs.snapshot()
	res := map[string]interface{}{"total": len(all)}
	if len(all) > 0 {
		res["oldestKey"] = all[0].GetEvent().Key
		res["newestKey"] = all[len(all)-1].GetEvent().Key
		res["newestClass"] = className(all[len(all)-1])
	}
	return res, nil
}

func (k *control) vmTask(action string) func(context.Context, params) (map[string]interface{}, error) {
	return func(ctx context.Context, p params) (map[string]interface{}, error) {
		vm, err := k.vm(ctx, p, "DC0_H0_VM0")
		if err != nil {
			return nil, err
		}
		var t *object.Task
		switch action {
		case "PowerOn":
			t, err = vm.PowerOn(ctx)
		case "PowerOff":
			t, err = vm.PowerOff(ctx)
		case "Suspend":
			t, err = vm.Suspend(ctx)
		}
		return nil, taskDone(t, err)
	}
}

func (k *control) opReset(ctx context.Context, p params) (map[string]interface{}, error) {
	vm, err := k.vm(ctx, p, "DC0_H0_VM0")
	if err != nil {
		return nil, err
	}
	// The simulator resets as power-off + power-on; vCenter announces it first.
	ev, err := k.vmEvent(p.str("vm", "DC0_H0_VM0"), &types.VmResettingEvent{})
	if err != nil {
		return nil, err
	}
	if err := k.post(ctx, ev); err != nil {
		return nil, err
	}
	t, err := vm.Reset(ctx)
	return nil, taskDone(t, err)
}

func (k *control) opShutdownGuest(ctx context.Context, p params) (map[string]interface{}, error) {
	vm, err := k.vm(ctx, p, "DC0_H0_VM0")
	if err != nil {
		return nil, err
	}
	return nil, vm.ShutdownGuest(ctx)
}

// opRebootGuest: the simulator has no RebootGuest; post vCenter's event.
func (k *control) opRebootGuest(ctx context.Context, p params) (map[string]interface{}, error) {
	ev, err := k.vmEvent(p.str("vm", "DC0_H0_VM0"), &types.VmGuestRebootEvent{})
	if err != nil {
		return nil, badParam("%v", err)
	}
	return map[string]interface{}{"supplemented": true}, k.post(ctx, ev)
}

func (k *control) opCreateVM(ctx context.Context, p params) (map[string]interface{}, error) {
	name := p.str("name", "")
	if name == "" {
		return nil, badParam("name= required")
	}
	host, err := k.host(ctx, p, "DC0_H0")
	if err != nil {
		return nil, err
	}
	f, err := k.finder(ctx)
	if err != nil {
		return nil, err
	}
	folders, err := f.DefaultFolder(ctx)
	if err != nil {
		return nil, err
	}
	pool, err := host.ResourcePool(ctx)
	if err != nil {
		return nil, err
	}
	spec := types.VirtualMachineConfigSpec{
		Name: name, GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest),
		NumCPUs: 1, MemoryMB: 128,
		Files: &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
	}
	t, err := folders.CreateVM(ctx, spec, pool, host)
	return nil, taskDone(t, err)
}

func (k *control) opDestroyVM(ctx context.Context, p params) (map[string]interface{}, error) {
	if p.str("vm", "") == "" {
		return nil, badParam("vm= required")
	}
	vm, err := k.vm(ctx, p, "")
	if err != nil {
		return nil, err
	}
	t, err := vm.Destroy(ctx)
	return nil, taskDone(t, err)
}

func (k *control) opRenameVM(ctx context.Context, p params) (map[string]interface{}, error) {
	oldName := p.str("vm", "DC0_H0_VM1")
	newName := p.str("name", "")
	if newName == "" {
		return nil, badParam("name= required")
	}
	vm, err := k.vm(ctx, p, oldName)
	if err != nil {
		return nil, err
	}
	if err := taskDone(vm.Rename(ctx, newName)); err != nil {
		return nil, err
	}
	// The simulator renames silently; vCenter posts VmRenamedEvent.
	ev, err := k.vmEvent(newName, &types.VmRenamedEvent{OldName: oldName, NewName: newName})
	if err != nil {
		return nil, err
	}
	return map[string]interface{}{"supplemented": []string{"VmRenamedEvent"}}, k.post(ctx, ev)
}

func (k *control) opReconfigureVM(ctx context.Context, p params) (map[string]interface{}, error) {
	vm, err := k.vm(ctx, p, "DC0_H0_VM0")
	if err != nil {
		return nil, err
	}
	cpus, err := p.int("cpus", 2)
	if err != nil {
		return nil, err
	}
	mem, err := p.int("memory", 2048)
	if err != nil {
		return nil, err
	}
	spec := types.VirtualMachineConfigSpec{NumCPUs: int32(cpus), MemoryMB: mem, Annotation: p.str("annotation", "")}
	t, err := vm.Reconfigure(ctx, spec)
	return nil, taskDone(t, err)
}

func (k *control) opCloneVM(ctx context.Context, p params) (map[string]interface{}, error) {
	name := p.str("name", "")
	if name == "" {
		return nil, badParam("name= required")
	}
	vm, err := k.vm(ctx, p, "DC0_H0_VM0")
	if err != nil {
		return nil, err
	}
	f, err := k.finder(ctx)
	if err != nil {
		return nil, err
	}
	folders, err := f.DefaultFolder(ctx)
	if err != nil {
		return nil, err
	}
	_ = folders
	dcf, err := f.Folder(ctx, "vm")
	if err != nil {
		return nil, err
	}
	t, err := vm.Clone(ctx, dcf, name, types.VirtualMachineCloneSpec{})
	return nil, taskDone(t, err)
}

func (k *control) opMigrateVM(ctx context.Context, p params) (map[string]interface{}, error) {
	vmName := p.str("vm", "DC0_C0_RP0_VM0")
	vm, err := k.vm(ctx, p, vmName)
	if err != nil {
		return nil, err
	}
	before, err := resolveTarget(vmName, "")
	if err != nil {
		return nil, err
	}
	var dest *types.ManagedObjectReference
	if hn := p.str("host", ""); hn != "" {
		if dest = findByName("HostSystem", hn); dest == nil {
			return nil, badParam("no host named %q", hn)
		}
	} else {
		dest = before.srcHost // another host of the VM's cluster
	}
	if *dest == *before.host {
		return nil, badParam("VM %s is already on %s", vmName, entityName(dest))
	}
	destT, err := resolveTarget("", entityName(dest))
	if err != nil {
		return nil, err
	}
	// vMotion as vCenter reports it: start on the source, done on the target.
	start, _ := k.vmEvent(vmName, &types.VmBeingHotMigratedEvent{
		DestHost:       *before.hostArgFor(dest),
		DestDatacenter: destT.dcArg(),
		DestDatastore:  destT.dsArg(),
	})
	if err := k.post(ctx, start); err != nil {
		return nil, err
	}
	spec := types.VirtualMachineRelocateSpec{Host: dest, Pool: destT.pool}
	if err := taskDone(vm.Relocate(ctx, spec, types.VirtualMachineMovePriorityDefaultPriority)); err != nil {
		return nil, err
	}
	done, _ := k.vmEvent(vmName, &types.VmMigratedEvent{
		SourceHost:       *before.hostArgFor(before.host),
		SourceDatacenter: before.dcArg(),
		SourceDatastore:  before.dsArg(),
	})
	return map[string]interface{}{"supplemented": []string{"VmBeingHotMigratedEvent", "VmMigratedEvent"}, "host": entityName(dest)},
		k.post(ctx, done)
}

func (k *control) hostEvent(hostName string, ev types.BaseEvent) types.BaseEvent {
	t, err := resolveTarget("", hostName)
	if err == nil {
		t.fillBase(ev)
	}
	return ev
}

func (k *control) opHostMaintenance(enter bool) func(context.Context, params) (map[string]interface{}, error) {
	return func(ctx context.Context, p params) (map[string]interface{}, error) {
		name := p.str("host", "DC0_C0_H1")
		h, err := k.host(ctx, p, name)
		if err != nil {
			return nil, err
		}
		// The simulator's maintenance tasks post nothing; add vCenter's events.
		if enter {
			if err := k.post(ctx, k.hostEvent(name, &types.EnteringMaintenanceModeEvent{})); err != nil {
				return nil, err
			}
			if err := taskDone(h.EnterMaintenanceMode(ctx, 0, false, nil)); err != nil {
				return nil, err
			}
			return map[string]interface{}{"supplemented": true}, k.post(ctx, k.hostEvent(name, &types.EnteredMaintenanceModeEvent{}))
		}
		if err := taskDone(h.ExitMaintenanceMode(ctx, 0)); err != nil {
			return nil, err
		}
		return map[string]interface{}{"supplemented": true}, k.post(ctx, k.hostEvent(name, &types.ExitMaintenanceModeEvent{}))
	}
}

// opHostConnection: the simulator cannot disconnect hosts; we flip the
// host's connection state and post the events vCenter posts.
func (k *control) opHostConnection(connect bool) func(context.Context, params) (map[string]interface{}, error) {
	return func(ctx context.Context, p params) (map[string]interface{}, error) {
		name := p.str("host", "DC0_C0_H2")
		h, err := k.host(ctx, p, name)
		if err != nil {
			return nil, err
		}
		hs := simulator.Map.Get(h.Reference()).(*simulator.HostSystem)
		state := types.HostSystemConnectionStateDisconnected
		var ev types.BaseEvent = &types.HostDisconnectedEvent{Reason: string(types.HostDisconnectedEventReasonCodeUserRequest)}
		if connect {
			state = types.HostSystemConnectionStateConnected
			ev = &types.HostConnectedEvent{}
		}
		simulator.Map.WithLock(hs, func() {
			simulator.Map.Update(hs, []types.PropertyChange{
				{Name: "runtime.connectionState", Val: state},
				{Name: "summary.runtime.connectionState", Val: state},
			})
		})
		return map[string]interface{}{"supplemented": true}, k.post(ctx, k.hostEvent(name, ev))
	}
}

// opLogin logs a user in (and out, unless logout=0) through the public
// endpoint's session manager; a failed login posts BadUsernameSessionEvent
// as vCenter does.
func (k *control) opLogin(ctx context.Context, p params) (map[string]interface{}, error) {
	user := p.str("user", k.p.user)
	pass := p.str("password", k.p.password)
	c, err := vim25.NewClient(ctx, soap.NewClient(k.p.internal.URL, true))
	if err != nil {
		return nil, err
	}
	sm := session.NewManager(c)
	if err := sm.Login(ctx, url.UserPassword(user, pass)); err != nil {
		if !isInvalidLogin(err) {
			return nil, err
		}
		ev := &types.BadUsernameSessionEvent{IpAddress: "127.0.0.1"}
		postAs(ctx, user, ev)
		return map[string]interface{}{"loggedIn": false}, nil
	}
	us, _ := sm.UserSession(ctx)
	res := map[string]interface{}{"loggedIn": true}
	if us != nil {
		res["sessionKey"] = us.Key
	}
	if p.bool("logout", true) {
		return res, sm.Logout(ctx)
	}
	return res, nil
}

func isInvalidLogin(err error) bool {
	if soap.IsSoapFault(err) {
		_, ok := soap.ToSoapFault(err).VimFault().(types.InvalidLogin)
		return ok
	}
	return false
}

func (k *control) opCreateFolder(ctx context.Context, p params) (map[string]interface{}, error) {
	name := p.str("name", "")
	if name == "" {
		return nil, badParam("name= required")
	}
	f, err := k.finder(ctx)
	if err != nil {
		return nil, err
	}
	parent, err := f.Folder(ctx, p.str("parent", "vm"))
	if err != nil {
		return nil, badParam("parent: %v", err)
	}
	nf, err := parent.CreateFolder(ctx, name)
	if err != nil {
		return nil, err
	}
	return map[string]interface{}{"moref": nf.Reference().Value}, nil
}

func (k *control) opDestroyFolder(ctx context.Context, p params) (map[string]interface{}, error) {
	name := p.str("name", "")
	ref := findByName("Folder", name)
	if name == "" || ref == nil {
		return nil, badParam("no folder named %q", name)
	}
	return nil, taskDone(object.NewFolder(k.c, *ref).Destroy(ctx))
}

func (k *control) opCreateDatacenter(ctx context.Context, p params) (map[string]interface{}, error) {
	name := p.str("name", "")
	if name == "" {
		return nil, badParam("name= required")
	}
	dc, err := object.NewRootFolder(k.c).CreateDatacenter(ctx, name)
	if err != nil {
		return nil, err
	}
	return map[string]interface{}{"moref": dc.Reference().Value}, nil
}

func (k *control) opDestroyDatacenter(ctx context.Context, p params) (map[string]interface{}, error) {
	name := p.str("name", "")
	ref := findByName("Datacenter", name)
	if name == "" || ref == nil {
		return nil, badParam("no datacenter named %q", name)
	}
	return nil, taskDone(object.NewDatacenter(k.c, *ref).Destroy(ctx))
}

func (k *control) opPostEvent(ctx context.Context, p params) (map[string]interface{}, error) {
	class := p.str("class", "")
	if class == "" {
		return nil, badParam("class= required")
	}
	ev, err := buildEvent(class, p.str("vm", ""), p.str("host", ""), p["fields"])
	if err != nil {
		return nil, badParam("%v", err)
	}
	// backdate=MS (history mode): the event's createdTime is MS before
	// its posting, as when vCenter commits an event late.
	back, err := p.int("backdate", 0)
	if err != nil {
		return nil, err
	}
	if back != 0 {
		if err := k.needHistory(); err != nil {
			return nil, err
		}
		k.p.hist.backdateNext(ev, time.Duration(back)*time.Millisecond)
		postAs(ctx, p.str("user", k.p.user), ev)
		return nil, nil
	}
	if u := p.str("user", ""); u != "" {
		postAs(ctx, u, ev)
		return nil, nil
	}
	return nil, k.post(ctx, ev)
}

func kvArgs(raw json.RawMessage) (map[string]interface{}, error) {
	m := map[string]interface{}{}
	if len(raw) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, badParam("expected a JSON object: %v", err)
	}
	return m, nil
}

func sortedKeys(m map[string]interface{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (k *control) opPostEventEx(ctx context.Context, p params) (map[string]interface{}, error) {
	args, err := kvArgs(p["arguments"])
	if err != nil {
		return nil, err
	}
	t, err := resolveTarget(p.str("vm", ""), p.str("host", ""))
	if err != nil {
		return nil, badParam("%v", err)
	}
	ev := &types.EventEx{
		EventTypeId: p.str("eventTypeId", "com.vmware.vcpipe.test.event"),
		Severity:    p.str("severity", "info"),
		Message:     p.str("message", ""),
	}
	t.fillBase(ev)
	obj := t.host
	if t.vm != nil {
		obj = t.vm
	}
	ev.ObjectId, ev.ObjectType, ev.ObjectName = obj.Value, obj.Type, entityName(obj)
	for _, key := range sortedKeys(args) {
		ev.Arguments = append(ev.Arguments, types.KeyAnyValue{Key: key, Value: fmt.Sprint(args[key])})
	}
	ev.FullFormattedMessage = p.str("message", "")
	return nil, k.post(ctx, ev)
}

func (k *control) opPostExtendedEvent(ctx context.Context, p params) (map[string]interface{}, error) {
	data, err := kvArgs(p["data"])
	if err != nil {
		return nil, err
	}
	t, err := resolveTarget(p.str("vm", ""), p.str("host", ""))
	if err != nil {
		return nil, badParam("%v", err)
	}
	id := p.str("eventTypeId", p.str("eventId", "com.vmware.vcpipe.test.extended"))
	ev := &types.ExtendedEvent{EventTypeId: id}
	t.fillBase(ev)
	ev.ManagedObject = *t.host
	if t.vm != nil {
		ev.ManagedObject = *t.vm
	}
	ev.Message = p.str("message", "")
	for _, key := range sortedKeys(data) {
		ev.Data = append(ev.Data, types.ExtendedEventPair{Key: key, Value: fmt.Sprint(data[key])})
	}
	return nil, k.post(ctx, ev)
}

// opPostBurst posts count events in-process, as fast as the simulator
// takes them, cycling through classes (comma separated).
func (k *control) opPostBurst(ctx context.Context, p params) (map[string]interface{}, error) {
	n, err := p.int("count", 1000)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > 10000000 {
		return nil, badParam("count out of range")
	}
	classes := strings.Split(p.str("classes", p.str("class", "VmPoweredOnEvent,VmPoweredOffEvent")), ",")
	var tmpl []types.BaseEvent
	for _, c := range classes {
		ev, err := buildEvent(strings.TrimSpace(c), p.str("vm", ""), p.str("host", ""), p["fields"])
		if err != nil {
			return nil, badParam("%v", err)
		}
		tmpl = append(tmpl, ev)
	}
	// rate (events/s, default 0: at once) paces the burst for latency
	// benches: event i is posted at i/rate s (those due together, at
	// most a millisecond apart, in one go), not in chunks of 256.
	rate, err := p.int("rate", 0)
	if err != nil {
		return nil, err
	}
	if rate < 0 || rate > 1000000 {
		return nil, badParam("rate out of range")
	}
	startT := time.Now()
	chunk := int64(256)
	for i := int64(0); i < n; {
		if rate > 0 {
			due := int64(time.Since(startT).Seconds()*float64(rate)) + 1
			if due <= i {
				wait := time.Until(startT.Add(time.Duration(float64(i) / float64(rate) * 1e9)))
				if wait < time.Millisecond {
					wait = time.Millisecond
				}
				select {
				case <-ctx.Done():
					return map[string]interface{}{"posted": i, "seconds": time.Since(startT).Seconds()}, nil
				case <-time.After(wait):
				}
				continue
			}
			chunk = due - i
		}
		batch := make([]types.BaseEvent, 0, chunk)
		for end := i + chunk; i < n && i < end; i++ {
			batch = append(batch, cloneEvent(tmpl[i%int64(len(tmpl))]))
		}
		postAs(ctx, p.str("user", k.p.user), batch...)
	}
	el := time.Since(startT)
	return map[string]interface{}{"posted": n, "seconds": el.Seconds()}, nil
}

// opTerminateSessions ends every session except the control client's.
func (k *control) opTerminateSessions(ctx context.Context, p params) (map[string]interface{}, error) {
	n, err := k.terminateSessions(ctx)
	return map[string]interface{}{"terminated": n}, err
}

// opSessions lists the sessions other than the control client's.
func (k *control) opSessions(ctx context.Context, p params) (map[string]interface{}, error) {
	own, err := session.NewManager(k.c).UserSession(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := k.sessionKeys(ctx)
	if err != nil {
		return nil, err
	}
	others := []string{}
	for _, key := range keys {
		if key != own.Key {
			others = append(others, key)
		}
	}
	return map[string]interface{}{"sessions": others, "total": len(others)}, nil
}

func (k *control) sessionKeys(ctx context.Context) ([]string, error) {
	var m mo.SessionManager
	pc := property.DefaultCollector(k.c)
	if err := pc.RetrieveOne(ctx, *k.c.ServiceContent.SessionManager, []string{"sessionList"}, &m); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(m.SessionList))
	for _, s := range m.SessionList {
		keys = append(keys, s.Key)
	}
	return keys, nil
}

// pruneCollectors runs in history mode: every few seconds it drops the
// collectors of sessions that no longer exist.
func (k *control) pruneCollectors(stop <-chan struct{}) {
	t := time.NewTicker(3 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		keys, err := k.sessionKeys(ctx)
		cancel()
		if err != nil {
			continue
		}
		live := make(map[string]bool, len(keys))
		for _, key := range keys {
			live[key] = true
		}
		k.p.hist.prune(live)
	}
}

func (k *control) terminateSessions(ctx context.Context) (int, error) {
	sm := session.NewManager(k.c)
	own, err := sm.UserSession(ctx)
	if err != nil {
		return 0, err
	}
	keys, err := k.sessionKeys(ctx)
	if err != nil {
		return 0, err
	}
	var ids []string
	for _, key := range keys {
		if key != own.Key {
			ids = append(ids, key)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	req := types.TerminateSession{This: *k.c.ServiceContent.SessionManager, SessionId: ids}
	if _, err := methods.TerminateSession(ctx, k.c, &req); err != nil {
		return 0, err
	}
	return len(ids), nil
}

func (k *control) opFault(ctx context.Context, p params) (map[string]interface{}, error) {
	mode := p.str("mode", "")
	if mode == "none" || mode == "clear" {
		k.p.front.setFault(nil)
		return map[string]interface{}{"fault": nil}, nil
	}
	if !faultModes[mode] {
		return nil, badParam("mode= one of http500 malformed-xml slow cut notauthenticated invalidargument hang none")
	}
	count, err := p.int("count", 1)
	if err != nil {
		return nil, err
	}
	delay, err := p.int("delay", 2000)
	if err != nil {
		return nil, err
	}
	fs := &faultSpec{Mode: mode, Count: int(count), Method: p.str("method", ""), DelayMs: int(delay)}
	if mode != "slow" {
		fs.DelayMs = 0
	}
	k.p.front.setFault(fs)
	return map[string]interface{}{"fault": fs}, nil
}

func (k *control) opRestart(ctx context.Context, p params) (map[string]interface{}, error) {
	delay, err := p.int("delay", 1000)
	if err != nil {
		return nil, err
	}
	if err := k.p.front.restart(time.Duration(delay) * time.Millisecond); err != nil {
		return nil, err
	}
	return map[string]interface{}{"down": true, "delayMs": delay}, nil
}

func (k *control) needHistory() error {
	if k.p.hist == nil {
		return &opError{http.StatusConflict, "only in -history mode"}
	}
	return nil
}

// histInt: the integer parameter name (def when absent) of an op that
// exists only in -history mode.
func (k *control) histInt(p params, name string, def int64) (int64, error) {
	if err := k.needHistory(); err != nil {
		return 0, err
	}
	return p.int(name, def)
}

func (k *control) opSkipKeys(ctx context.Context, p params) (map[string]interface{}, error) {
	n, err := k.histInt(p, "n", 1000)
	if err != nil {
		return nil, err
	}
	return map[string]interface{}{"nextKey": k.p.hist.skipKeys(int32(n))}, nil
}

func (k *control) opSetNextKey(ctx context.Context, p params) (map[string]interface{}, error) {
	key, err := k.histInt(p, "key", 0)
	if err != nil {
		return nil, err
	}
	if key < -2147483648 || key > 2147483647 {
		return nil, badParam("key out of int32 range")
	}
	k.p.hist.setNextKey(int32(key))
	return map[string]interface{}{"nextKey": key}, nil
}

func (k *control) opWithhold(ctx context.Context, p params) (map[string]interface{}, error) {
	n, err := k.histInt(p, "count", 1)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, badParam("count must not be negative")
	}
	k.p.hist.withholdNext(int(n))
	return map[string]interface{}{"withhold": n}, nil
}
