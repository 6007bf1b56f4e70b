package deploy_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/alarm"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/emulator"
	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/policy"
)

// TestSamplesAreOneWorld: the samples a new user meets together (the
// instances `make emulator` serves, the bundled policy, the events/ payloads
// `make invoke` and `make run` send) describe one world: every event names
// an instance the emulator serves and the bundled policy selects.
func TestSamplesAreOneWorld(t *testing.T) {
	f, err := os.Open("../emulator/testdata/instances.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	list, err := emulator.LoadInstances(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	instances := map[string]emulator.Instance{}
	selected := 0
	for _, in := range list {
		instances[in.InstanceId] = in
		if p.Allows(in.InstanceId, in.Tags) {
			selected++
		}
	}
	if selected == 0 {
		t.Error("the bundled policy selects none of the emulator's sample instances")
	}

	files, err := filepath.Glob("../../events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no event files: %v", err)
	}
	for _, path := range files {
		payload, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		d, err := alarm.Decode(payload, alarm.Options{DefaultRegion: "cn-hangzhou"})
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		var ids []string
		for _, a := range d.Alarms {
			ids = append(ids, a.InstanceID)
		}
		if d.Manual != nil {
			ids = append(ids, d.Manual.InstanceID)
		}
		for _, id := range ids {
			in, ok := instances[id]
			switch {
			case !ok:
				t.Errorf("%s names %s, which the emulator's instances.json does not have", filepath.Base(path), id)
			case !p.Allows(id, in.Tags):
				t.Errorf("%s names %s, which the bundled policy does not select (tags %v)", filepath.Base(path), id, in.Tags)
			}
		}
	}
}
