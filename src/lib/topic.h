/*
 * topic.h: the OpenFaaS vcenter-connector's topic names, which vc-source
 * --connector writes into its messages and sink-http matches functions'
 * topic annotations against.
 */
#ifndef VP_TOPIC_H
#define VP_TOPIC_H

/*
 * The connector's convertToTopic: every "Event" removed, then the words of
 * the camel-case name lower-cased and joined by dots, as dispatch's
 * camelCaseToLowerSeparated splits them (VmPoweredOnEvent -> vm.powered.on,
 * EventEx -> ex, VMFSDatastoreCreatedEvent -> vmfs.datastore.created).
 * malloc'd.
 */
char *vp_connector_topic(const char *class_name);

/*
 * The Go class name behind a CloudEvent of vCenter's, for the connector's
 * topic: EventEx or ExtendedEvent for those (by the router type's suffix,
 * or the vsphere style's eventclass), else the subject, else the X of a
 * vsphere-style type com.vmware.vsphere.X.v0. NULL when none. malloc'd.
 */
char *vp_event_class(const char *type, const char *subject,
    const char *eventclass);

#endif
