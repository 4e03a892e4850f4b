package main

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

var rootFolderRef types.ManagedObjectReference

// target is the inventory an event is about, resolved to real objects.
type target struct {
	vm, host, srcHost, cr, dc, ds, net, dvs, pool, folder *types.ManagedObjectReference
}

func entityName(ref *types.ManagedObjectReference) string {
	if ref == nil {
		return ""
	}
	if e, ok := simulator.Map.Get(*ref).(mo.Entity); ok {
		return e.Entity().Name
	}
	return ref.Value
}

func parentOf(ref types.ManagedObjectReference) *types.ManagedObjectReference {
	if e, ok := simulator.Map.Get(ref).(mo.Entity); ok {
		return e.Entity().Parent
	}
	return nil
}

// ancestorOfType climbs the inventory from ref to the first object of kind.
func ancestorOfType(ref types.ManagedObjectReference, kind ...string) *types.ManagedObjectReference {
	for p := parentOf(ref); p != nil; p = parentOf(*p) {
		for _, k := range kind {
			if p.Type == k {
				r := *p
				return &r
			}
		}
	}
	return nil
}

func findByName(kind, name string) *types.ManagedObjectReference {
	for _, e := range simulator.Map.All(kind) {
		if e.Entity().Name == name {
			r := e.Reference()
			return &r
		}
	}
	return nil
}

func firstOf(kind string) *types.ManagedObjectReference {
	all := simulator.Map.All(kind)
	if len(all) == 0 {
		return nil
	}
	// Lowest moref for determinism (All iterates a map).
	best := all[0].Reference()
	for _, e := range all[1:] {
		if r := e.Reference(); len(r.Value) < len(best.Value) || (len(r.Value) == len(best.Value) && r.Value < best.Value) {
			best = r
		}
	}
	return &best
}

// resolveTarget fills the objects an event refers to: the named VM (and its
// host, cluster, datacenter, datastore, network) or the named host.
func resolveTarget(vmName, hostName string) (*target, error) {
	t := &target{}
	if vmName != "" {
		t.vm = findByName("VirtualMachine", vmName)
		if t.vm == nil {
			return nil, fmt.Errorf("no VM named %q", vmName)
		}
		vm := simulator.Map.Get(*t.vm).(*simulator.VirtualMachine)
		if vm.Runtime.Host != nil {
			h := *vm.Runtime.Host
			t.host = &h
		}
		if len(vm.Datastore) > 0 {
			d := vm.Datastore[0]
			t.ds = &d
		}
		if len(vm.Network) > 0 {
			n := vm.Network[0]
			t.net = &n
		}
		if vm.ResourcePool != nil {
			p := *vm.ResourcePool
			t.pool = &p
		}
		t.folder = parentOf(*t.vm)
	}
	if hostName != "" {
		t.host = findByName("HostSystem", hostName)
		if t.host == nil {
			return nil, fmt.Errorf("no host named %q", hostName)
		}
	}
	if t.host == nil {
		t.host = findByName("HostSystem", "DC0_C0_H0")
		if t.host == nil {
			t.host = firstOf("HostSystem")
		}
	}
	t.cr = ancestorOfType(*t.host, "ClusterComputeResource", "ComputeResource")
	t.dc = ancestorOfType(*t.host, "Datacenter")
	if t.ds == nil {
		h := simulator.Map.Get(*t.host).(*simulator.HostSystem)
		if len(h.Datastore) > 0 {
			d := h.Datastore[0]
			t.ds = &d
		}
		if len(h.Network) > 0 {
			n := h.Network[0]
			t.net = &n
		}
	}
	// Another host of the same compute resource, as a migration source.
	if t.cr != nil {
		if cr, ok := simulator.Map.Get(*t.cr).(*simulator.ClusterComputeResource); ok {
			for _, h := range cr.Host {
				if h != *t.host {
					hh := h
					t.srcHost = &hh
					break
				}
			}
		}
	}
	if t.srcHost == nil {
		t.srcHost = t.host
	}
	t.dvs = firstOf("VmwareDistributedVirtualSwitch")
	if t.pool == nil {
		if t.cr != nil {
			switch cr := simulator.Map.Get(*t.cr).(type) {
			case *simulator.ClusterComputeResource:
				t.pool = cr.ResourcePool
			case *mo.ComputeResource:
				t.pool = cr.ResourcePool
			}
		}
	}
	if t.folder == nil && t.dc != nil {
		dc := simulator.Map.Get(*t.dc).(*simulator.Datacenter)
		f := dc.VmFolder
		t.folder = &f
	}
	return t, nil
}

func arg(ref *types.ManagedObjectReference) types.EntityEventArgument {
	return types.EntityEventArgument{Name: entityName(ref)}
}

func (t *target) vmArg() *types.VmEventArgument {
	if t.vm == nil {
		return nil
	}
	return &types.VmEventArgument{EntityEventArgument: arg(t.vm), Vm: *t.vm}
}
func (t *target) hostArgFor(ref *types.ManagedObjectReference) *types.HostEventArgument {
	if ref == nil {
		return nil
	}
	return &types.HostEventArgument{EntityEventArgument: arg(ref), Host: *ref}
}
func (t *target) crArg() *types.ComputeResourceEventArgument {
	if t.cr == nil {
		return nil
	}
	return &types.ComputeResourceEventArgument{EntityEventArgument: arg(t.cr), ComputeResource: *t.cr}
}
func (t *target) dcArg() *types.DatacenterEventArgument {
	if t.dc == nil {
		return nil
	}
	return &types.DatacenterEventArgument{EntityEventArgument: arg(t.dc), Datacenter: *t.dc}
}
func (t *target) dsArg() *types.DatastoreEventArgument {
	if t.ds == nil {
		return nil
	}
	return &types.DatastoreEventArgument{EntityEventArgument: arg(t.ds), Datastore: *t.ds}
}
func (t *target) netArg() *types.NetworkEventArgument {
	if t.net == nil {
		return nil
	}
	return &types.NetworkEventArgument{EntityEventArgument: arg(t.net), Network: *t.net}
}
func (t *target) dvsArg() *types.DvsEventArgument {
	if t.dvs == nil {
		return nil
	}
	return &types.DvsEventArgument{EntityEventArgument: arg(t.dvs), Dvs: *t.dvs}
}

func embeds(kind reflect.Type, name string) bool {
	f, ok := kind.FieldByName(name)
	return ok && f.Anonymous
}

// fillBase sets the Event's entity arguments the way vCenter does for the
// class's family: VM events name the VM, its host, cluster and datacenter;
// host events the host, cluster and datacenter; and so on.
func (t *target) fillBase(ev types.BaseEvent) {
	e := ev.GetEvent()
	kind := reflect.TypeOf(ev).Elem()
	switch {
	case embeds(kind, "VmEvent") || (t.vm != nil && !embeds(kind, "SessionEvent")):
		e.Vm, e.Host, e.ComputeResource, e.Datacenter = t.vmArg(), t.hostArgFor(t.host), t.crArg(), t.dcArg()
	case embeds(kind, "HostEvent"), embeds(kind, "AlarmEvent"), embeds(kind, "HostDasEvent"):
		e.Host, e.ComputeResource, e.Datacenter = t.hostArgFor(t.host), t.crArg(), t.dcArg()
	case embeds(kind, "ClusterEvent"):
		e.ComputeResource, e.Datacenter = t.crArg(), t.dcArg()
	case embeds(kind, "DatastoreEvent"):
		e.Ds, e.Datacenter = t.dsArg(), t.dcArg()
	case embeds(kind, "DvsEvent"):
		e.Dvs, e.Datacenter = t.dvsArg(), t.dcArg()
	case embeds(kind, "DatacenterEvent"):
		e.Datacenter = t.dcArg()
	case embeds(kind, "SessionEvent"), embeds(kind, "LicenseEvent"), embeds(kind, "RoleEvent"),
		embeds(kind, "PermissionEvent"), embeds(kind, "ScheduledTaskEvent"), embeds(kind, "CustomFieldEvent"):
		// vCenter-wide events carry no inventory arguments.
	default:
		e.Host, e.ComputeResource, e.Datacenter = t.hostArgFor(t.host), t.crArg(), t.dcArg()
	}
}

var (
	typHost    = reflect.TypeOf(types.HostEventArgument{})
	typVM      = reflect.TypeOf(types.VmEventArgument{})
	typDC      = reflect.TypeOf(types.DatacenterEventArgument{})
	typCR      = reflect.TypeOf(types.ComputeResourceEventArgument{})
	typDS      = reflect.TypeOf(types.DatastoreEventArgument{})
	typNet     = reflect.TypeOf(types.NetworkEventArgument{})
	typDvs     = reflect.TypeOf(types.DvsEventArgument{})
	typME      = reflect.TypeOf(types.ManagedEntityEventArgument{})
	typAlarm   = reflect.TypeOf(types.AlarmEventArgument{})
	typFolder  = reflect.TypeOf(types.FolderEventArgument{})
	typPool    = reflect.TypeOf(types.ResourcePoolEventArgument{})
	typSched   = reflect.TypeOf(types.ScheduledTaskEventArgument{})
	typBaseEvt = reflect.TypeOf(types.Event{})
)

// argValue builds a realistic value of an *EventArgument type for field name.
func (t *target) argValue(typ reflect.Type, field string) (reflect.Value, bool) {
	var v interface{}
	switch typ {
	case typHost:
		ref := t.host
		if strings.HasPrefix(field, "Source") || strings.HasPrefix(field, "Src") {
			ref = t.srcHost
		}
		v = *t.hostArgFor(ref)
	case typVM:
		if t.vm == nil {
			return reflect.Value{}, false
		}
		v = *t.vmArg()
	case typDC:
		if t.dc == nil {
			return reflect.Value{}, false
		}
		v = *t.dcArg()
	case typCR:
		if t.cr == nil {
			return reflect.Value{}, false
		}
		v = *t.crArg()
	case typDS:
		if t.ds == nil {
			return reflect.Value{}, false
		}
		v = *t.dsArg()
	case typNet:
		if t.net == nil {
			return reflect.Value{}, false
		}
		v = *t.netArg()
	case typDvs:
		if t.dvs == nil {
			return reflect.Value{}, false
		}
		v = *t.dvsArg()
	case typME:
		ref := t.host
		if t.vm != nil {
			ref = t.vm
		}
		v = types.ManagedEntityEventArgument{EntityEventArgument: arg(ref), Entity: *ref}
	case typAlarm:
		v = types.AlarmEventArgument{
			EntityEventArgument: types.EntityEventArgument{Name: "Host connection and power state"},
			Alarm:               types.ManagedObjectReference{Type: "Alarm", Value: "alarm-1"},
		}
	case typFolder:
		if t.folder == nil {
			return reflect.Value{}, false
		}
		v = types.FolderEventArgument{EntityEventArgument: arg(t.folder), Folder: *t.folder}
	case typPool:
		if t.pool == nil {
			return reflect.Value{}, false
		}
		v = types.ResourcePoolEventArgument{EntityEventArgument: arg(t.pool), ResourcePool: *t.pool}
	case typSched:
		v = types.ScheduledTaskEventArgument{
			EntityEventArgument: types.EntityEventArgument{Name: "nightly snapshot"},
			ScheduledTask:       types.ManagedObjectReference{Type: "ScheduledTask", Value: "schedule-1"},
		}
	default:
		return reflect.Value{}, false
	}
	return reflect.ValueOf(v), true
}

// fillFields sets every class-specific *EventArgument field (outside the
// base Event) to real inventory objects.
func (t *target) fillFields(v reflect.Value) {
	typ := v.Type()
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		fv := v.Field(i)
		if f.Type == typBaseEvt {
			continue
		}
		ft := f.Type
		isPtr := ft.Kind() == reflect.Ptr
		if isPtr {
			ft = ft.Elem()
		}
		if val, ok := t.argValue(ft, f.Name); ok {
			if isPtr {
				p := reflect.New(ft)
				p.Elem().Set(val)
				fv.Set(p)
			} else {
				fv.Set(val)
			}
			continue
		}
		if f.Anonymous && ft.Kind() == reflect.Struct && !isPtr {
			t.fillFields(fv)
		}
	}
}

// classDefaults gives a few well-known classes the values vCenter would.
func (t *target) classDefaults(ev types.BaseEvent) {
	switch e := ev.(type) {
	case *types.AlarmStatusChangedEvent:
		e.From, e.To = "green", "red"
	case *types.VmReconfiguredEvent:
		e.ConfigSpec = types.VirtualMachineConfigSpec{NumCPUs: 2, MemoryMB: 4096}
	case *types.VmRenamedEvent:
		e.OldName, e.NewName = entityName(t.vm), entityName(t.vm)+"-renamed"
	case *types.EnteredMaintenanceModeEvent, *types.EnteringMaintenanceModeEvent:
	case *types.GeneralUserEvent:
		e.Message = "vcpipe test event"
	case *types.HostDisconnectedEvent:
		e.Reason = string(types.HostDisconnectedEventReasonCodeUserRequest)
	case *types.UserLoginSessionEvent:
		e.IpAddress, e.UserAgent, e.Locale, e.SessionId = "127.0.0.1", "vcpipe-vcsim", "en", "52a3e4c1-0000-4000-8000-000000000001"
	case *types.BadUsernameSessionEvent:
		e.IpAddress = "127.0.0.1"
	}
}

// buildEvent makes an event of any vim25 event class with realistic
// arguments; fields (a JSON object with govmomi field names) override.
func buildEvent(class, vmName, hostName string, fields json.RawMessage) (types.BaseEvent, error) {
	typ, ok := types.TypeFunc()(class)
	if !ok || typ.Kind() != reflect.Struct {
		return nil, fmt.Errorf("unknown vim25 type %q", class)
	}
	ptr := reflect.New(typ)
	ev, ok := ptr.Interface().(types.BaseEvent)
	if !ok {
		return nil, fmt.Errorf("%s is not an event class", class)
	}
	if vmName == "" && embeds(typ, "VmEvent") {
		vmName = "DC0_C0_RP0_VM0"
	}
	t, err := resolveTarget(vmName, hostName)
	if err != nil {
		return nil, err
	}
	t.fillBase(ev)
	t.fillFields(ptr.Elem())
	t.classDefaults(ev)
	if len(fields) > 0 && string(fields) != "null" {
		if err := json.Unmarshal(fields, ev); err != nil {
			return nil, fmt.Errorf("fields: %v", err)
		}
	}
	return ev, nil
}

// postAs posts in-process as user (the simulator stamps the poster's user
// name on each event; real vCenter names the user who did the action).
func postAs(ctx context.Context, user string, evs ...types.BaseEvent) {
	em := simulator.Map.EventManager()
	sctx := &simulator.Context{
		Context: ctx,
		Session: &simulator.Session{UserSession: types.UserSession{UserName: user}},
		Map:     simulator.Map,
	}
	simulator.Map.WithLock(em, func() {
		for _, ev := range evs {
			em.PostEvent(sctx, &types.PostEvent{EventToPost: ev})
		}
	})
}

// cloneEvent copies an event struct (arguments are shared, read-only).
func cloneEvent(ev types.BaseEvent) types.BaseEvent {
	v := reflect.ValueOf(ev).Elem()
	p := reflect.New(v.Type())
	p.Elem().Set(v)
	return p.Interface().(types.BaseEvent)
}
