// vim-xml2json: the reference for vc-source's event mapper. Reads a SOAP
// response (or a bare event element) on stdin, decodes the events with
// govmomi's own vim25/xml decoder and type registry, exactly as govmomi's
// soap client does (xml.NewDecoder with TypeFunc), and prints json.Marshal
// of each event, one per line.
//
// Events are found as vc-source finds them: the returnval elements of a
// *EventsResponse (decoded as types.ReadNextEventsResponse), the Event
// elements of an xsi:type="ArrayOfEvent" value (types.ArrayOfEvent), or the
// root element itself when neither occurs (decoded as types.BaseEvent).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

func xsiType(se xml.StartElement) string {
	for _, a := range se.Attr {
		if a.Name.Local == "type" && (a.Name.Space == "http://www.w3.org/2001/XMLSchema-instance" || a.Name.Space == "xsi") {
			return a.Value
		}
	}
	return ""
}

func newDecoder(b []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.TypeFunc = types.TypeFunc()
	return d
}

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vim-xml2json:", err)
		os.Exit(74)
	}
	var events []types.BaseEvent
	d := newDecoder(in)
	found := false
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "vim-xml2json:", err)
			os.Exit(65)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root == "" {
			root = se.Name.Local
		}
		t := strings.TrimPrefix(xsiType(se), "vim25:")
		switch {
		case strings.HasSuffix(se.Name.Local, "EventsResponse"):
			var r types.ReadNextEventsResponse
			if err := d.DecodeElement(&r, &se); err != nil {
				fmt.Fprintln(os.Stderr, "vim-xml2json:", err)
				os.Exit(65)
			}
			events = append(events, r.Returnval...)
			found = true
		case t == "ArrayOfEvent":
			var a types.ArrayOfEvent
			if err := d.DecodeElement(&a, &se); err != nil {
				fmt.Fprintln(os.Stderr, "vim-xml2json:", err)
				os.Exit(65)
			}
			events = append(events, a.Event...)
			found = true
		}
	}
	if !found && root != "" && root != "Envelope" {
		var w struct {
			E types.BaseEvent `xml:",any,typeattr"`
		}
		// Wrap the bare element so the decoder treats it as an
		// interface-typed field, as it does a returnval.
		wrapped := append(append([]byte("<w>"), stripProlog(in)...), "</w>"...)
		if err := newDecoder(wrapped).Decode(&w); err != nil {
			fmt.Fprintln(os.Stderr, "vim-xml2json:", err)
			os.Exit(65)
		}
		events = append(events, w.E)
	}
	out := bufio.NewWriter(os.Stdout)
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			fmt.Fprintln(os.Stderr, "vim-xml2json:", err)
			os.Exit(65)
		}
		out.Write(b)
		out.WriteByte('\n')
	}
	if err := out.Flush(); err != nil {
		os.Exit(74)
	}
}

func stripProlog(b []byte) []byte {
	s := bytes.TrimSpace(b)
	if bytes.HasPrefix(s, []byte("<?xml")) {
		if i := bytes.Index(s, []byte("?>")); i >= 0 {
			s = s[i+2:]
		}
	}
	return s
}
