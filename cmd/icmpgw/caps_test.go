package main

import (
	"strings"
	"testing"
)

// Capability masks as /proc/PID/status prints them (capabilities(7)).
const (
	capSetpcap   = 1 << 8  // CAP_SETPCAP
	capNetAdmin  = 1 << 12 // CAP_NET_ADMIN
	capSysAdmin  = 1 << 21 // CAP_SYS_ADMIN
	capSysRes    = 1 << 24 // CAP_SYS_RESOURCE
	capAll       = 0x000001ffffffffff
	capNoSysRes  = capAll &^ capSysRes
	capNoSetpcap = capAll &^ capSetpcap
)

func TestDropTarget(t *testing.T) {
	for _, tt := range []struct {
		name string
		from capState
		want capState
	}{
		{name: "root",
			from: capState{Prm: capAll, Eff: capAll, Bnd: capAll},
			want: capState{Prm: capSysAdmin, Eff: capSysAdmin, Bnd: capSysAdmin, NoNewPrivs: true}},
		{name: "bounding set already without cap_sys_resource",
			from: capState{Prm: capNoSysRes, Eff: capNoSysRes, Bnd: capNoSysRes},
			want: capState{Prm: capSysAdmin, Eff: capSysAdmin, Bnd: capSysAdmin, NoNewPrivs: true}},
		{name: "inheritable and ambient emptied",
			from: capState{Inh: capNetAdmin | capSysAdmin, Prm: capAll, Eff: capAll, Bnd: capAll, Amb: capNetAdmin},
			want: capState{Prm: capSysAdmin, Eff: capSysAdmin, Bnd: capSysAdmin, NoNewPrivs: true}},
		{name: "effective set lowered: permitted decides",
			from: capState{Prm: capAll, Bnd: capAll},
			want: capState{Prm: capSysAdmin, Eff: capSysAdmin, Bnd: capSysAdmin, NoNewPrivs: true}},
		{name: "no cap_sys_admin to keep",
			from: capState{Prm: capNetAdmin | capSetpcap, Eff: capNetAdmin | capSetpcap, Bnd: capNetAdmin | capSetpcap},
			want: capState{NoNewPrivs: true}},
		{name: "no cap_setpcap: bounding set stays",
			from: capState{Prm: capNoSetpcap, Eff: capNoSetpcap, Bnd: capNoSetpcap},
			want: capState{Prm: capSysAdmin, Eff: capSysAdmin, Bnd: capNoSetpcap, NoNewPrivs: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := dropTarget(tt.from, keptCaps); got != tt.want {
				t.Errorf("dropTarget(%v, %s)\n got %v\nwant %v", tt.from, capNames(capMask(keptCaps)), got, tt.want)
			}
		})
	}
}

func TestCapNames(t *testing.T) {
	for _, tt := range []struct {
		mask uint64
		want string
	}{
		{0, "none"},
		{capSysAdmin, "cap_sys_admin"},
		{capNetAdmin | capSysAdmin, "cap_net_admin,cap_sys_admin"},
	} {
		if got := capNames(tt.mask); got != tt.want {
			t.Errorf("capNames(%#x) = %q, want %q", tt.mask, got, tt.want)
		}
	}
}

// statusDropped is the part of /proc/PID/status that matters, from a
// dropped `icmpgw up` on a machine whose bounding set lacks
// CAP_SYS_RESOURCE.
const statusDropped = `Name:	icmpgw
Umask:	0022
State:	S (sleeping)
Tgid:	653
Uid:	0	0	0	0
CapInh:	0000000000000000
CapPrm:	0000000000200000
CapEff:	0000000000200000
CapBnd:	0000000000200000
CapAmb:	0000000000000000
NoNewPrivs:	1
Seccomp:	0
`

func TestParseCapState(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status string
		want   capState
		err    string
	}{
		{name: "dropped", status: statusDropped,
			want: capState{Prm: capSysAdmin, Eff: capSysAdmin, Bnd: capSysAdmin, NoNewPrivs: true}},
		{name: "root",
			status: "CapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\nCapEff:\t000001fffeffffff\nCapBnd:\t000001fffeffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\n",
			want:   capState{Prm: capNoSysRes, Eff: capNoSysRes, Bnd: capNoSysRes}},
		{name: "no NoNewPrivs line (Linux before 4.10)",
			status: strings.Replace(statusDropped, "NoNewPrivs:\t1\n", "", 1),
			err:    "want CapInh, CapPrm, CapEff, CapBnd, CapAmb and NoNewPrivs lines"},
		{name: "bad mask",
			status: strings.Replace(statusDropped, "CapEff:\t0000000000200000", "CapEff:\tall", 1),
			err:    `CapEff: got "all", want a hex mask`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCapState([]byte(tt.status))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}
