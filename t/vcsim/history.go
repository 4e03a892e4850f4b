package main

import (
	"reflect"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// History mode: event collectors with real vCenter semantics.
//
// The stock simulator's collector only keeps a ring of the newest page and
// returns it newest first. Here the whole history is kept (the observer
// feeds it, in posting order), and each collector is a scrollable view over
// the events matching its filter: it starts at the oldest, ReadNextEvents
// moves forward in creation order and returns nothing at the end, newer
// matching events extend the view, latestPage holds the newest pageSize
// events (newest first, as govmomi's event tailer expects) and is pushed to
// property collectors on change.
//
// Lock order: simulator object locks -> historyManager.mu -> property
// collector internals. Nothing here takes a simulator object lock while
// holding mu.

const (
	defaultPageSize = 10
	maxPageSize     = 1000
)

var historyManagerRef = types.ManagedObjectReference{Type: "EventManager", Value: "VcpipeHistoryEventManager"}

type historyManager struct {
	mu         sync.Mutex
	events     []types.BaseEvent
	nextKey    int32
	collectors map[*historyCollector]struct{}
	changed    chan struct{}                  // closed (and replaced) whenever a latestPage changes
	category   map[string]string              // event class -> info/warning/error/user
	backdate   map[*types.Event]time.Duration // events to make older when posted
	withhold   int                            // next events ReadNextEvents leaves out
	withheld   map[int32]bool                 // keys ReadNextEvents leaves out
}

// historyManagerObj is the managed object the front end routes
// CreateCollectorForEvents and QueryEvents to.
type historyManagerObj struct {
	mo.EventManager
	h *historyManager
}

func newHistoryManager(o *observer) *historyManager {
	h := &historyManager{
		nextKey:    1,
		collectors: make(map[*historyCollector]struct{}),
		changed:    make(chan struct{}),
		category:   make(map[string]string),
	}
	em := simulator.Map.EventManager()
	for _, info := range em.Description.EventInfo {
		h.category[info.Key] = info.Category
	}
	obj := &historyManagerObj{EventManager: em.EventManager, h: h}
	obj.Self = historyManagerRef
	simulator.Map.Put(obj)
	return h
}

// Get serves properties of the real EventManager for our alias.
func (m *historyManagerObj) Get() mo.Reference {
	em := simulator.Map.EventManager()
	c := em.EventManager
	c.Self = historyManagerRef
	return &c
}

// backdateNext makes ev (about to be posted in-process) d older than its
// posting time, before any collector can see it.
func (h *historyManager) backdateNext(ev types.BaseEvent, d time.Duration) {
	h.mu.Lock()
	if h.backdate == nil {
		h.backdate = make(map[*types.Event]time.Duration)
	}
	h.backdate[ev.GetEvent()] = d
	h.mu.Unlock()
}

func (h *historyManager) assignKey(ev types.BaseEvent) {
	h.mu.Lock()
	e := ev.GetEvent()
	if d, ok := h.backdate[e]; ok {
		e.CreatedTime = e.CreatedTime.Add(-d)
		delete(h.backdate, e)
	}
	e.Key = h.nextKey
	e.ChainId = h.nextKey
	h.nextKey++ // int32: wraps to negative as vCenter's keys do
	h.mu.Unlock()
}

func (h *historyManager) skipKeys(n int32) int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextKey += n
	return h.nextKey
}

func (h *historyManager) setNextKey(k int32) {
	h.mu.Lock()
	h.nextKey = k
	h.mu.Unlock()
}

// withholdNext makes ReadNextEvents leave out the next n events posted
// (latestPage still shows them): a reader whose collector misses events.
func (h *historyManager) withholdNext(n int) {
	h.mu.Lock()
	h.withhold = n
	h.mu.Unlock()
}

func (h *historyManager) publish(ev types.BaseEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.withhold > 0 {
		h.withhold--
		if h.withheld == nil {
			h.withheld = make(map[int32]bool)
		}
		h.withheld[ev.GetEvent().Key] = true
	}
	h.events = append(h.events, ev)
	for c := range h.collectors {
		if c.matches(ev) {
			c.view = append(c.view, ev)
			c.pushLatestPage()
		}
	}
}

func (m *historyManagerObj) CreateCollectorForEvents(ctx *simulator.Context, req *types.CreateCollectorForEvents) soap.HasFault {
	body := new(methods.CreateCollectorForEventsBody)
	size := defaultPageSize
	if req.Filter.MaxCount != 0 {
		if req.Filter.MaxCount < 0 || req.Filter.MaxCount > maxPageSize {
			body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "maxCount"})
			return body
		}
		size = int(req.Filter.MaxCount)
	}
	h := m.h
	c := &historyCollector{h: h, spec: req.Filter, pageSize: size, session: ctx.Session.Key}
	c.Self = types.ManagedObjectReference{Type: "EventHistoryCollector"}
	c.Filter = req.Filter

	h.mu.Lock()
	for _, ev := range h.events {
		if c.matches(ev) {
			c.view = append(c.view, ev)
		}
	}
	h.collectors[c] = struct{}{}
	h.mu.Unlock()

	ref := ctx.Session.Put(c).Reference()
	body.Res = &types.CreateCollectorForEventsResponse{Returnval: ref}
	return body
}

// QueryEvents returns the newest matching events (at most filter.maxCount,
// default 1000) in creation order.
func (m *historyManagerObj) QueryEvents(ctx *simulator.Context, req *types.QueryEvents) soap.HasFault {
	h := m.h
	c := &historyCollector{h: h, spec: req.Filter}
	limit := maxPageSize
	if req.Filter.MaxCount > 0 && int(req.Filter.MaxCount) < limit {
		limit = int(req.Filter.MaxCount)
	}
	var out []types.BaseEvent
	h.mu.Lock()
	for _, ev := range h.events {
		if c.matches(ev) {
			out = append(out, ev)
		}
	}
	h.mu.Unlock()
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return &methods.QueryEventsBody{Res: &types.QueryEventsResponse{Returnval: out}}
}

type historyCollector struct {
	mo.EventHistoryCollector

	h        *historyManager
	spec     types.EventFilterSpec
	view     []types.BaseEvent // matching events, creation order
	pos      int               // the scrollable view sits before view[pos]
	pageSize int
	gen      uint64 // bumped on every latestPage change (historyPC)
	session  string // owning session: the collector dies with it
}

func (h *historyManager) collectorCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.collectors)
}

// prune forgets collectors whose session is gone (logged out, terminated,
// restarted), so they stop costing time on every new event.
func (h *historyManager) prune(live map[string]bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for c := range h.collectors {
		if !live[c.session] {
			delete(h.collectors, c)
			n++
		}
	}
	return n
}

// latest returns the newest pageSize events of the view, newest first.
// Caller holds h.mu.
func (c *historyCollector) latest() []types.BaseEvent {
	n := c.pageSize
	if n > len(c.view) {
		n = len(c.view)
	}
	page := make([]types.BaseEvent, 0, n)
	for i := len(c.view) - 1; i >= len(c.view)-n; i-- {
		page = append(page, c.view[i])
	}
	return page
}

// pushLatestPage lets property collectors (WaitForUpdatesEx) see the new
// page. Caller holds h.mu.
func (c *historyCollector) pushLatestPage() {
	c.gen++
	close(c.h.changed)
	c.h.changed = make(chan struct{})
	simulator.Map.Update(c, []types.PropertyChange{{Name: "latestPage", Val: c.latest()}})
}

func (c *historyCollector) Get() mo.Reference {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	clone := c.EventHistoryCollector
	clone.LatestPage = c.latest()
	return &clone
}

func badMaxCount() *soap.Fault {
	return simulator.Fault("", &types.InvalidArgument{InvalidProperty: "maxCount"})
}

func clampRead(n int32) int {
	if n > maxPageSize {
		return maxPageSize
	}
	return int(n)
}

func (c *historyCollector) ReadNextEvents(ctx *simulator.Context, req *types.ReadNextEvents) soap.HasFault {
	body := &methods.ReadNextEventsBody{}
	if req.MaxCount <= 0 {
		body.Fault_ = badMaxCount()
		return body
	}
	c.h.mu.Lock()
	end := c.pos + clampRead(req.MaxCount)
	if end > len(c.view) {
		end = len(c.view)
	}
	var out []types.BaseEvent
	for _, ev := range c.view[c.pos:end] {
		if !c.h.withheld[ev.GetEvent().Key] {
			out = append(out, ev)
		}
	}
	c.pos = end
	c.h.mu.Unlock()
	body.Res = &types.ReadNextEventsResponse{Returnval: out}
	return body
}

// ReadPreviousEvents returns the events just before the view position (in
// creation order) and moves the position back over them.
func (c *historyCollector) ReadPreviousEvents(ctx *simulator.Context, req *types.ReadPreviousEvents) soap.HasFault {
	body := &methods.ReadPreviousEventsBody{}
	if req.MaxCount <= 0 {
		body.Fault_ = badMaxCount()
		return body
	}
	c.h.mu.Lock()
	start := c.pos - clampRead(req.MaxCount)
	if start < 0 {
		start = 0
	}
	out := append([]types.BaseEvent(nil), c.view[start:c.pos]...)
	c.pos = start
	c.h.mu.Unlock()
	body.Res = &types.ReadPreviousEventsResponse{Returnval: out}
	return body
}

// ResetCollector moves the view to the item just before the latest page
// (vSphere API reference wording), so ReadNextEvents returns the latest
// page and then only newer events.
func (c *historyCollector) ResetCollector(ctx *simulator.Context, req *types.ResetCollector) soap.HasFault {
	c.h.mu.Lock()
	c.pos = len(c.view) - c.pageSize
	if c.pos < 0 {
		c.pos = 0
	}
	c.h.mu.Unlock()
	return &methods.ResetCollectorBody{Res: new(types.ResetCollectorResponse)}
}

func (c *historyCollector) RewindCollector(ctx *simulator.Context, req *types.RewindCollector) soap.HasFault {
	c.h.mu.Lock()
	c.pos = 0
	c.h.mu.Unlock()
	return &methods.RewindCollectorBody{Res: new(types.RewindCollectorResponse)}
}

func (c *historyCollector) SetCollectorPageSize(ctx *simulator.Context, req *types.SetCollectorPageSize) soap.HasFault {
	body := new(methods.SetCollectorPageSizeBody)
	if req.MaxCount <= 0 || req.MaxCount > maxPageSize {
		body.Fault_ = badMaxCount()
		return body
	}
	c.h.mu.Lock()
	c.pageSize = int(req.MaxCount)
	c.pushLatestPage()
	c.h.mu.Unlock()
	body.Res = new(types.SetCollectorPageSizeResponse)
	return body
}

func (c *historyCollector) DestroyCollector(ctx *simulator.Context, req *types.DestroyCollector) soap.HasFault {
	c.h.mu.Lock()
	delete(c.h.collectors, c)
	c.h.mu.Unlock()
	ctx.Session.Remove(req.This)
	return &methods.DestroyCollectorBody{Res: new(types.DestroyCollectorResponse)}
}

// matches applies the EventFilterSpec the way vCenter documents it.
// Caller holds h.mu (only for c.h.category, which is read-only).
func (c *historyCollector) matches(ev types.BaseEvent) bool {
	spec := &c.spec
	e := ev.GetEvent()

	if t := spec.Time; t != nil {
		if t.BeginTime != nil && e.CreatedTime.Before(*t.BeginTime) {
			return false
		}
		if t.EndTime != nil && e.CreatedTime.After(*t.EndTime) {
			return false
		}
	}
	if ids := append(append([]string(nil), spec.EventTypeId...), spec.Type...); len(ids) > 0 && !typeMatches(ev, ids) {
		return false
	}
	if spec.EventChainId != 0 && e.ChainId != spec.EventChainId {
		return false
	}
	if u := spec.UserName; u != nil {
		ok := u.SystemUser && e.UserName == ""
		for _, name := range u.UserList {
			if name == e.UserName {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if len(spec.Category) > 0 {
		cat := c.h.category[reflect.TypeOf(ev).Elem().Name()]
		if x, ok := ev.(*types.EventEx); ok && x.Severity != "" {
			cat = x.Severity
		}
		if cat == "" {
			cat = string(types.EventEventSeverityInfo)
		}
		ok := false
		for _, want := range spec.Category {
			if want == cat {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if spec.Alarm != nil && !refField(ev, "Alarm", "Alarm", *spec.Alarm) {
		return false
	}
	if spec.ScheduledTask != nil && !refField(ev, "ScheduledTask", "ScheduledTask", *spec.ScheduledTask) {
		return false
	}
	if spec.Entity != nil && !entityMatches(ev, spec.Entity) {
		return false
	}
	return true
}

// typeMatches: eventTypeId names the class, a base class, an EventEx's
// eventTypeId or an ExtendedEvent's eventId.
func typeMatches(ev types.BaseEvent, ids []string) bool {
	name := className(ev)
	kind := reflect.TypeOf(ev).Elem()
	for _, id := range ids {
		if id == name || id == kind.Name() {
			return true
		}
		if f, ok := kind.FieldByName(id); ok && f.Anonymous {
			return true
		}
	}
	return false
}

// refField reports whether ev has an argument field outer (e.g. Alarm of
// type AlarmEventArgument) whose inner moref equals want.
func refField(ev types.BaseEvent, outer, inner string, want types.ManagedObjectReference) bool {
	v := reflect.ValueOf(ev).Elem().FieldByName(outer)
	if !v.IsValid() {
		return false
	}
	if v.Kind() == reflect.Ptr {
		if v.IsNil() {
			return false
		}
		v = v.Elem()
	}
	r := v.FieldByName(inner)
	if !r.IsValid() {
		return false
	}
	ref, ok := r.Interface().(types.ManagedObjectReference)
	return ok && ref == want
}

func eventEntities(ev types.BaseEvent) []types.ManagedObjectReference {
	e := ev.GetEvent()
	var refs []types.ManagedObjectReference
	if e.Vm != nil {
		refs = append(refs, e.Vm.Vm)
	}
	if e.Host != nil {
		refs = append(refs, e.Host.Host)
	}
	if e.ComputeResource != nil {
		refs = append(refs, e.ComputeResource.ComputeResource)
	}
	if e.Ds != nil {
		refs = append(refs, e.Ds.Datastore)
	}
	if e.Net != nil {
		refs = append(refs, e.Net.Network)
	}
	if e.Dvs != nil {
		refs = append(refs, e.Dvs.Dvs)
	}
	if e.Datacenter != nil {
		refs = append(refs, e.Datacenter.Datacenter)
	}
	return refs
}

// ancestors walks the inventory parents of ref (and a VM's host and
// resource pool, which vCenter also counts as containing it).
func ancestors(ref types.ManagedObjectReference) map[types.ManagedObjectReference]bool {
	seen := make(map[types.ManagedObjectReference]bool)
	var walk func(r types.ManagedObjectReference, depth int)
	walk = func(r types.ManagedObjectReference, depth int) {
		if depth > 32 {
			return
		}
		obj := simulator.Map.Get(r)
		if obj == nil {
			return
		}
		if vm, ok := obj.(*simulator.VirtualMachine); ok {
			if h := vm.Runtime.Host; h != nil && !seen[*h] {
				seen[*h] = true
				walk(*h, depth+1)
			}
			if p := vm.ResourcePool; p != nil && !seen[*p] {
				seen[*p] = true
				walk(*p, depth+1)
			}
		}
		if ent, ok := obj.(mo.Entity); ok {
			if p := ent.Entity().Parent; p != nil && !seen[*p] {
				seen[*p] = true
				walk(*p, depth+1)
			}
		}
	}
	walk(ref, 0)
	return seen
}

func entityMatches(ev types.BaseEvent, spec *types.EventFilterSpecByEntity) bool {
	isRoot := spec.Entity == rootFolderRef
	if isRoot && spec.Recursion != types.EventFilterSpecRecursionOptionChildren {
		return true
	}
	self, children := false, false
	for _, r := range eventEntities(ev) {
		if r == spec.Entity {
			self = true
		}
		if ancestors(r)[spec.Entity] {
			children = true
		}
	}
	switch spec.Recursion {
	case types.EventFilterSpecRecursionOptionSelf:
		return self || isRoot
	case types.EventFilterSpecRecursionOptionChildren:
		return children || (isRoot && !self)
	default: // all
		return self || children || isRoot
	}
}
