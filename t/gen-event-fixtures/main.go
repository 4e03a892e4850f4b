// gen-event-fixtures writes t/data/events/*.xml: SOAP responses carrying
// vim25 events, made the truthful way: govmomi event values encoded by
// govmomi's own vim25/xml encoder (the one its client sends requests with;
// interface-typed fields get xsi:type from their typeattr tags), wrapped in
// the envelope vCenter answers with.
//
//	cd t/gen-event-fixtures && GO111MODULE=off GOPATH=/usr/share/gocode go run . ../data/events
//
// Hand-written edge cases (t/data/events/edge-*.xml) are not made here.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

const envHead = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body>
`
const envTail = `
</soapenv:Body>
</soapenv:Envelope>
`

var base = time.Date(2026, 11, 23, 9, 0, 0, 123456000, time.UTC)

func mor(t, v string) types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: t, Value: v}
}

func pmor(t, v string) *types.ManagedObjectReference {
	m := mor(t, v)
	return &m
}

func ev(key int32, msg string) types.Event {
	return types.Event{
		Key:         key,
		ChainId:     key,
		CreatedTime: base.Add(time.Duration(key%1000) * time.Second),
		UserName:    `VSPHERE.LOCAL\Administrator`,
		Datacenter: &types.DatacenterEventArgument{
			EntityEventArgument: types.EntityEventArgument{Name: "DC0"},
			Datacenter:          mor("Datacenter", "datacenter-2")},
		ComputeResource: &types.ComputeResourceEventArgument{
			EntityEventArgument: types.EntityEventArgument{Name: "DC0_C0"},
			ComputeResource:     mor("ClusterComputeResource", "domain-c7")},
		Host: &types.HostEventArgument{
			EntityEventArgument: types.EntityEventArgument{Name: "esx-01.example.com"},
			Host:                mor("HostSystem", "host-21")},
		FullFormattedMessage: msg,
	}
}

func vmArg(name, id string) *types.VmEventArgument {
	return &types.VmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: name},
		Vm: mor("VirtualMachine", id)}
}

func vmev(key int32, msg string) types.VmEvent {
	e := ev(key, msg)
	e.Vm = vmArg("web-01", "vm-42")
	return types.VmEvent{Event: e, Template: false}
}

func dvsev(key int32, msg string) types.DvsEvent {
	e := ev(key, msg)
	e.Dvs = &types.DvsEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "DSwitch"},
		Dvs: mor("VmwareDistributedVirtualSwitch", "dvs-11")}
	return types.DvsEvent{Event: e}
}

func fault(f types.BaseMethodFault, msg string) *types.LocalizedMethodFault {
	return &types.LocalizedMethodFault{Fault: f, LocalizedMessage: msg}
}

func tptr(t time.Time) *time.Time { return &t }
func bptr(b bool) *bool           { return &b }

func reconfigSpec() types.VirtualMachineConfigSpec {
	unit := int32(7)
	return types.VirtualMachineConfigSpec{
		ChangeVersion: "2026-11-23T08:59:00.000001Z",
		Name:          "web-01",
		NumCPUs:       4,
		MemoryMB:      16384,
		Annotation:    "Größe <über> & \"Ärger\" — 日本語 😀",
		ExtraConfig: []types.BaseOptionValue{
			&types.OptionValue{Key: "guestinfo.role", Value: "frontend"},
			&types.OptionValue{Key: "numa.nodeAffinity", Value: int32(1)},
		},
		CpuAllocation: &types.ResourceAllocationInfo{Reservation: types.NewInt64(1000),
			Shares: &types.SharesInfo{Shares: 4000, Level: types.SharesLevelNormal}},
		DeviceChange: []types.BaseVirtualDeviceConfigSpec{
			&types.VirtualDeviceConfigSpec{
				Operation: types.VirtualDeviceConfigSpecOperationAdd,
				Device: &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
					VirtualDevice: types.VirtualDevice{
						Key:        -100,
						DeviceInfo: &types.Description{Label: "Network adapter 2", Summary: "VM Network"},
						Backing: &types.VirtualEthernetCardNetworkBackingInfo{
							VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "VM Network"},
							Network:                        pmor("Network", "network-17")},
						Connectable: &types.VirtualDeviceConnectInfo{StartConnected: true, AllowGuestControl: true},
						UnitNumber:  &unit,
					},
					AddressType: "generated",
					MacAddress:  "00:50:56:aa:bb:cc",
				}}},
			},
			&types.VirtualDeviceConfigSpec{
				Operation:     types.VirtualDeviceConfigSpecOperationEdit,
				FileOperation: types.VirtualDeviceConfigSpecFileOperationCreate,
				Device: &types.VirtualDisk{
					VirtualDevice: types.VirtualDevice{
						Key:           2001,
						ControllerKey: 1000,
						Backing: &types.VirtualDiskFlatVer2BackingInfo{
							VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{
								FileName:  "[datastore1] web-01/web-01_1.vmdk",
								Datastore: pmor("Datastore", "datastore-13")},
							DiskMode:        "persistent",
							ThinProvisioned: bptr(true),
							Uuid:            "6000C29a-1234-5678-9abc-def012345678",
						},
					},
					CapacityInKB:    104857600,
					CapacityInBytes: 107374182400,
					StorageIOAllocation: &types.StorageIOAllocationInfo{Limit: types.NewInt64(-1),
						Shares: &types.SharesInfo{Shares: 1000, Level: types.SharesLevelCustom}},
				},
				Profile: []types.BaseVirtualMachineProfileSpec{&types.VirtualMachineDefaultProfileSpec{}},
			},
		},
	}
}

func events() map[string]types.BaseEvent {
	m := map[string]types.BaseEvent{}
	add := func(e types.BaseEvent) {
		m[reflect.TypeOf(e).Elem().Name()] = e
	}
	add(&types.VmPoweredOnEvent{VmEvent: vmev(1001, "web-01 on esx-01.example.com in DC0 is powered on")})
	add(&types.VmPoweredOffEvent{VmEvent: vmev(1002, "web-01 on esx-01.example.com in DC0 is powered off")})
	add(&types.VmSuspendedEvent{VmEvent: vmev(1003, "web-01 is suspended")})
	add(&types.VmResettingEvent{VmEvent: vmev(1004, "web-01 is reset")})
	add(&types.VmStartingEvent{VmEvent: vmev(1005, "web-01 is starting")})
	add(&types.VmGuestShutdownEvent{VmEvent: vmev(1006, "Guest OS shut down for web-01")})
	add(&types.VmCreatedEvent{VmEvent: vmev(1007, "Created virtual machine web-01")})
	add(&types.VmRemovedEvent{VmEvent: vmev(-2147483000, "Removed web-01 on esx-01.example.com from DC0")})
	add(&types.VmRenamedEvent{VmEvent: vmev(1008, "Renamed"), OldName: "web-01", NewName: "wéb-01 ✓"})
	add(&types.VmMacChangedEvent{VmEvent: vmev(1009, "mac"), Adapter: "Network adapter 1", OldMac: "00:50:56:00:00:01", NewMac: "00:50:56:00:00:02"})
	add(&types.VmAcquiredTicketEvent{VmEvent: vmev(1010, "ticket"), TicketType: "webmks"})
	add(&types.VmDasBeingResetEvent{VmEvent: vmev(1011, "HA reset"), Reason: "appHeartbeatFailure"})
	add(&types.VmReconfiguredEvent{VmEvent: vmev(1012, "Reconfigured web-01 on esx-01.example.com in DC0."),
		ConfigSpec: reconfigSpec(),
		ConfigChanges: &types.ChangesInfoEventArgument{Modified: "config.hardware.numCPU: 2 -> 4; \n\n", Added: "", Deleted: ""}})
	bs := reconfigSpec()
	add(&types.VmBeingCreatedEvent{VmEvent: vmev(1013, "Creating web-01"), ConfigSpec: &bs})
	add(&types.VmMigratedEvent{VmEvent: vmev(1014, "Migration of web-01 from esx-02 to esx-01 completed"),
		SourceHost: types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "esx-02.example.com"}, Host: mor("HostSystem", "host-22")},
		SourceDatastore: &types.DatastoreEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "ds-old"}, Datastore: mor("Datastore", "datastore-14")}})
	add(&types.VmRelocatedEvent{VmRelocateSpecEvent: types.VmRelocateSpecEvent{VmEvent: vmev(1015, "relocated")},
		SourceHost: types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "esx-02"}, Host: mor("HostSystem", "host-22")}})
	add(&types.VmClonedEvent{VmCloneEvent: types.VmCloneEvent{VmEvent: vmev(1016, "cloned")}, SourceVm: *vmArg("template-01", "vm-7")})
	add(&types.DrsVmPoweredOnEvent{VmPoweredOnEvent: types.VmPoweredOnEvent{VmEvent: vmev(1017, "DRS powered on web-01")}})
	add(&types.VmFailedToPowerOnEvent{VmEvent: vmev(1018, "Failed to power on"),
		Reason: *fault(&types.InsufficientMemoryResourcesFault{InsufficientResourcesFault: types.InsufficientResourcesFault{
			VimFault: types.VimFault{MethodFault: types.MethodFault{FaultMessage: []types.LocalizableMessage{{Key: "msg.key", Arg: []types.KeyAnyValue{{Key: "1", Value: "x"}}, Message: "not enough"}}}}},
			Unreserved: 1024, Requested: 4096}, "Insufficient memory resources")})
	add(&types.VmDiskFailedEvent{VmEvent: vmev(1019, "disk failed"), Disk: "scsi0:1",
		Reason: *fault(&types.FileNotFound{FileFault: types.FileFault{File: "[ds] web-01/web-01.vmdk"}}, "File not found")})
	add(&types.NotEnoughResourcesToStartVmEvent{VmEvent: vmev(1020, "no resources"), Reason: "admission control"})
	add(&types.MigrationResourceWarningEvent{MigrationEvent: types.MigrationEvent{VmEvent: vmev(1021, "warn"),
		Fault: *fault(&types.CpuIncompatible{Level: 1, RegisterName: "ecx", RegisterBits: "xxxx", DesiredBits: "1111", Host: pmor("HostSystem", "host-22")}, "CPU incompatible")},
		DstPool: types.ResourcePoolEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "Resources"}, ResourcePool: mor("ResourcePool", "resgroup-8")},
		DstHost: types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "esx-02"}, Host: mor("HostSystem", "host-22")}})

	he := func(key int32, msg string) types.HostEvent { e := ev(key, msg); return types.HostEvent{Event: e} }
	add(&types.HostConnectionLostEvent{HostEvent: he(2001, "Host esx-01.example.com in DC0 is not responding")})
	add(&types.HostConnectedEvent{HostEvent: he(2002, "Connected to esx-01.example.com")})
	add(&types.HostDisconnectedEvent{HostEvent: he(2003, "Disconnected"), Reason: "userRequest"})
	add(&types.HostAddedEvent{HostEvent: he(2004, "Added host")})
	add(&types.HostShutdownEvent{HostEvent: he(2005, "Shut down"), Reason: "maintenance\twindow\nline2"})
	add(&types.EnteredMaintenanceModeEvent{HostEvent: he(2006, "Entered maintenance mode")})

	am := func(key int32) types.AlarmEvent {
		return types.AlarmEvent{Event: ev(key, "alarm"), Alarm: types.AlarmEventArgument{
			EntityEventArgument: types.EntityEventArgument{Name: "Host CPU usage"}, Alarm: mor("Alarm", "alarm-1")}}
	}
	ent := types.ManagedEntityEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "esx-01.example.com"}, Entity: mor("HostSystem", "host-21")}
	add(&types.AlarmStatusChangedEvent{AlarmEvent: am(3001), Source: types.ManagedEntityEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "Datacenters"}, Entity: mor("Folder", "group-d1")},
		Entity: ent, From: "green", To: "red"})
	add(&types.AlarmCreatedEvent{AlarmEvent: am(3002), Entity: ent})
	add(&types.AlarmActionTriggeredEvent{AlarmEvent: am(3003), Source: ent, Entity: ent})

	res := types.ArrayOfManagedObjectReference{ManagedObjectReference: []types.ManagedObjectReference{mor("VirtualMachine", "vm-42"), mor("VirtualMachine", "vm-43")}}
	add(&types.TaskEvent{Event: ev(4001, "Task: Power On virtual machine"), Info: types.TaskInfo{
		Key: "task-123", Task: mor("Task", "task-123"), DescriptionId: "VirtualMachine.powerOn",
		Entity: pmor("VirtualMachine", "vm-42"), EntityName: "web-01", State: types.TaskInfoStateError,
		Cancelable: true,
		Error:      fault(&types.InvalidArgument{InvalidProperty: "spec.numCPUs"}, "A specified parameter was not correct: spec.numCPUs"),
		Result:     res,
		Progress:   42,
		Reason:     &types.TaskReasonUser{UserName: `VSPHERE.LOCAL\Administrator`},
		QueueTime:  base, StartTime: tptr(base.Add(time.Second)), CompleteTime: tptr(base.Add(1500 * time.Millisecond)),
		EventChainId: 4001,
		Locked:       []types.ManagedObjectReference{mor("HostSystem", "host-21")},
		Description:  &types.LocalizableMessage{Key: "k", Message: "power on"},
	}})

	add(&types.EventEx{Event: ev(5001, "com.vmware.vc.example"), EventTypeId: "com.vmware.vc.VmDiskConsolidatedEvent",
		Severity: "info", Message: "Disk consolidated",
		Arguments: []types.KeyAnyValue{
			{Key: "vm.name", Value: "web-01"},
			{Key: "count", Value: int32(-7)},
			{Key: "bytes", Value: int64(9007199254740993)},
			{Key: "ok", Value: true},
			{Key: "ratio", Value: float64(0.1)},
			{Key: "tiny", Value: float64(1.5e-9)},
			{Key: "huge", Value: float64(3e21)},
			{Key: "f32", Value: float32(3.14159)},
			{Key: "short", Value: int16(-300)},
			{Key: "byte", Value: int8(-5)},
			{Key: "when", Value: base},
			{Key: "blob", Value: []byte("hello")},
			{Key: "vm", Value: mor("VirtualMachine", "vm-42")},
			{Key: "names", Value: types.ArrayOfString{String: []string{"a", "b <c>"}}},
			{Key: "ints", Value: types.ArrayOfInt{Int: []int32{1, 2, 3}}},
			{Key: "state", Value: types.VirtualMachinePowerStatePoweredOn},
		},
		ObjectId: "vm-42", ObjectType: "VirtualMachine", ObjectName: "web-01",
		Fault: fault(&types.NotAuthenticated{NoPermission: types.NoPermission{Object: mor("VirtualMachine", "vm-42"), PrivilegeId: "System.View"}}, "not authenticated")})
	add(&types.ExtendedEvent{GeneralEvent: types.GeneralEvent{Event: ev(5002, "extended"), Message: "Solution event"},
		EventTypeId: "com.example.solution.backup.completed", ManagedObject: mor("VirtualMachine", "vm-42"),
		Data: []types.ExtendedEventPair{{Key: "job", Value: "nightly"}, {Key: "size", Value: "1024"}}})
	add(&types.GeneralUserEvent{GeneralEvent: types.GeneralEvent{Event: ev(5003, "user"), Message: "note"},
		Entity: &types.ManagedEntityEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "web-01"}, Entity: mor("VirtualMachine", "vm-42")}})

	add(&types.DvsPortLinkUpEvent{DvsEvent: dvsev(6001, "port up"), PortKey: "17",
		RuntimeInfo: &types.DVPortStatus{LinkUp: true, Blocked: false, VlanIds: []types.NumericRange{{Start: 10, End: 20}},
			TrunkingMode: bptr(true), Mtu: 9000, LinkPeer: "vmnic0", MacAddress: "00:50:56:01:02:03"}})
	add(&types.DvsPortCreatedEvent{DvsEvent: dvsev(6002, "ports created"), PortKey: []string{"1", "2", "3"}})
	add(&types.DvsCreatedEvent{DvsEvent: dvsev(6003, "created"), Parent: types.FolderEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "network"}, Folder: mor("Folder", "group-n5")}})
	add(&types.DvsReconfiguredEvent{DvsEvent: dvsev(6004, "reconfigured"),
		ConfigSpec: &types.VMwareDVSConfigSpec{DVSConfigSpec: types.DVSConfigSpec{ConfigVersion: "3", Name: "DSwitch",
			MaxPorts: 512, Description: "dvs",
			DefaultPortConfig: &types.VMwareDVSPortSetting{DVPortSetting: types.DVPortSetting{
				Blocked: &types.BoolPolicy{InheritablePolicy: types.InheritablePolicy{Inherited: false}, Value: bptr(false)}},
				Vlan: &types.VmwareDistributedVirtualSwitchVlanIdSpec{VmwareDistributedVirtualSwitchVlanSpec: types.VmwareDistributedVirtualSwitchVlanSpec{InheritablePolicy: types.InheritablePolicy{Inherited: false}}, VlanId: 100}},
		}, MaxMtu: 9000, LacpApiVersion: "multipleLag"},
		ConfigChanges: &types.ChangesInfoEventArgument{Modified: "maxMtu"}})

	add(&types.UserLoginSessionEvent{SessionEvent: types.SessionEvent{Event: ev(7001, "User logged in")},
		IpAddress: "192.0.2.10", UserAgent: "govc/0.24", Locale: "en", SessionId: "52a1b2c3-d4e5"})
	add(&types.UserLogoutSessionEvent{SessionEvent: types.SessionEvent{Event: ev(7002, "User logged out")},
		IpAddress: "192.0.2.10", CallCount: 1234567890123, SessionId: "52a1b2c3-d4e5", LoginTime: tptr(base.Add(-time.Hour))})
	add(&types.BadUsernameSessionEvent{SessionEvent: types.SessionEvent{Event: ev(7003, "Cannot login")}, IpAddress: "198.51.100.7"})

	dse := ev(8001, "deleted")
	dse.Ds = &types.DatastoreEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "datastore1"}, Datastore: mor("Datastore", "datastore-13")}
	add(&types.DatastoreFileDeletedEvent{DatastoreFileEvent: types.DatastoreFileEvent{DatastoreEvent: types.DatastoreEvent{Event: dse,
		Datastore: &types.DatastoreEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "datastore1"}, Datastore: mor("Datastore", "datastore-13")}},
		TargetFile: "[datastore1] old.iso", Succeeded: bptr(true)}})
	add(&types.ClusterReconfiguredEvent{ClusterEvent: types.ClusterEvent{Event: ev(8002, "cluster reconfigured")},
		ConfigChanges: &types.ChangesInfoEventArgument{Modified: "drsConfig.enabled"}})
	add(&types.PermissionAddedEvent{PermissionEvent: types.PermissionEvent{AuthorizationEvent: types.AuthorizationEvent{Event: ev(8003, "perm")},
		Entity: ent, Principal: "VSPHERE.LOCAL\\ops", Group: true},
		Role: types.RoleEventArgument{RoleId: -1, Name: "Admin"}, Propagate: true})
	add(&types.RoleAddedEvent{RoleEvent: types.RoleEvent{AuthorizationEvent: types.AuthorizationEvent{Event: ev(8004, "role")},
		Role: types.RoleEventArgument{RoleId: 1001, Name: "Ops"}}, PrivilegeList: []string{"System.View", "VirtualMachine.Interact.PowerOn"}})
	add(&types.LicenseExpiredEvent{Event: ev(8005, "license expired"), Feature: types.LicenseFeatureInfo{Key: "vmotion",
		FeatureName: "vMotion", State: types.LicenseFeatureInfoStateEnabled, CostUnit: "cpuPackage", DependentKey: []string{"esx"}}})
	add(&types.CustomFieldValueChangedEvent{CustomFieldEvent: types.CustomFieldEvent{Event: ev(8006, "custom field")},
		Entity: ent, FieldKey: 101, Name: "owner", Value: "team-a", PrevState: "team-b"})
	add(&types.ScheduledTaskCompletedEvent{ScheduledTaskEvent: types.ScheduledTaskEvent{Event: ev(8007, "scheduled"),
		ScheduledTask: types.ScheduledTaskEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "nightly"}, ScheduledTask: mor("ScheduledTask", "schedtask-1")},
		Entity: ent}})
	add(&types.ErrorUpgradeEvent{UpgradeEvent: types.UpgradeEvent{Event: ev(8008, "upgrade error"), Message: "agent upgrade failed"}})
	return m
}

func marshal(v interface{}) string {
	b, err := xml.Marshal(v)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-event-fixtures:", err)
		os.Exit(1)
	}
	return string(b)
}

// vCenter declares xsi once on the envelope and writes xsi:type; the Go
// encoder declares a prefix on every element. Write what vCenter writes.
func vcStyle(s string) string {
	s = strings.ReplaceAll(s, ` xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance"`, "")
	return strings.ReplaceAll(s, "XMLSchema-instance:type=", "xsi:type=")
}

func write(dir, name, body string) {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(envHead+body+envTail), 0644); err != nil {
		fmt.Fprintln(os.Stderr, "gen-event-fixtures:", err)
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen-event-fixtures DIR")
		os.Exit(64)
	}
	dir := os.Args[1]
	evs := events()
	var all []types.BaseEvent
	for name, e := range evs {
		body := marshal(types.ReadNextEventsResponse{Returnval: []types.BaseEvent{e}})
		body = strings.Replace(body, "<ReadNextEventsResponse>", `<ReadNextEventsResponse xmlns="urn:vim25">`, 1)
		if name == "TaskEvent" {
			// One file as the encoder writes it: namespaces declared per element.
			write(dir, "TaskEvent-encoder-namespaces.xml", body)
		}
		write(dir, name+".xml", vcStyle(body))
	}
	for _, n := range []string{"VmPoweredOnEvent", "TaskEvent", "EventEx", "VmReconfiguredEvent", "HostConnectionLostEvent"} {
		all = append(all, evs[n])
	}
	// A PropertyCollector update of latestPage: the events in an ArrayOfEvent value.
	upd := types.WaitForUpdatesExResponse{Returnval: &types.UpdateSet{Version: "3", FilterSet: []types.PropertyFilterUpdate{{
		Filter: mor("PropertyFilter", "session[52a1]52b2"),
		ObjectSet: []types.ObjectUpdate{{Kind: types.ObjectUpdateKindModify, Obj: mor("EventHistoryCollector", "session[52a1]52c3"),
			ChangeSet: []types.PropertyChange{{Name: "latestPage", Op: types.PropertyChangeOpAssign, Val: types.ArrayOfEvent{Event: all}}}}},
	}}}}
	body := marshal(upd)
	body = strings.Replace(body, "<WaitForUpdatesExResponse>", `<WaitForUpdatesExResponse xmlns="urn:vim25">`, 1)
	write(dir, "latestPage-ArrayOfEvent.xml", vcStyle(body))
	fmt.Fprintf(os.Stderr, "gen-event-fixtures: %d event classes\n", len(evs))
}
