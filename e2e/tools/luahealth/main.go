// Command luahealth runs Argo CD resource health checks (health.lua) against their test cases
// (health_test.yaml) with the Lua engine Argo CD embeds, github.com/yuin/gopher-lua, the way Argo
// CD's util/lua runs them: no standard libraries but package, base and table; the object as the
// global `obj`; the script's returned table read as {status, message}; a status outside Argo CD's
// set reads as Unknown; one second per script.
//
//	luahealth DIR...   DIR: a resource_customizations/<group>/<Kind> folder
//	luahealth --eval SCRIPT FILE...
//
// It prints one line per case and exits 1 when any case's status or message differs. With --eval it
// runs SCRIPT on each object FILE and prints one JSON line {"status", "message"} per file, so the
// testdata recorder (tests/integration/argocd) can compare live objects and write expectations.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	lua "github.com/yuin/gopher-lua"
	"gopkg.in/yaml.v3"
)

type healthStatus struct {
	Status  string `yaml:"status"`
	Message string `yaml:"message"`
}

type testCase struct {
	HealthStatus healthStatus `yaml:"healthStatus"`
	InputPath    string       `yaml:"inputPath"`
}

type testFile struct {
	Tests []testCase `yaml:"tests"`
}

// The statuses Argo CD accepts from a health script (gitops-engine's health package).
var validStatuses = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

// statusOnly compares only the status, for live objects whose messages a test cannot know ahead.
var statusOnly bool

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--eval" {
		os.Exit(eval(args[1:]))
	}
	if len(args) > 0 && args[0] == "--status-only" {
		statusOnly, args = true, args[1:]
	}
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: luahealth [--status-only] DIR... (each with health.lua and health_test.yaml)")
		os.Exit(2)
	}
	failed, cases := 0, 0
	for _, dir := range args {
		n, bad, err := runDir(dir)
		cases += n
		failed += bad
		if err != nil {
			fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", dir, err)
			failed++
		}
	}
	fmt.Printf("%d cases, %d failed\n", cases, failed)
	if failed > 0 || cases == 0 {
		os.Exit(1)
	}
}

func eval(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: luahealth --eval SCRIPT FILE...")
		return 2
	}
	script, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out := json.NewEncoder(os.Stdout)
	for _, path := range args[1:] {
		got, err := runCase(string(script), path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			return 1
		}
		if err := out.Encode(map[string]string{"status": got.Status, "message": got.Message}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

func runDir(dir string) (int, int, error) {
	script, err := os.ReadFile(filepath.Join(dir, "health.lua"))
	if err != nil {
		return 0, 0, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
	if err != nil {
		return 0, 0, err
	}
	var tests testFile
	if err := yaml.Unmarshal(raw, &tests); err != nil {
		return 0, 0, fmt.Errorf("health_test.yaml: %w", err)
	}
	if len(tests.Tests) == 0 {
		return 0, 0, fmt.Errorf("health_test.yaml has no tests")
	}
	failed := 0
	for _, tc := range tests.Tests {
		got, err := runCase(string(script), filepath.Join(dir, tc.InputPath))
		switch {
		case err != nil:
			failed++
			fmt.Printf("FAIL %s/%s: %v\n", dir, tc.InputPath, err)
		case got.Status != tc.HealthStatus.Status || (!statusOnly && got.Message != tc.HealthStatus.Message):
			failed++
			fmt.Printf("FAIL %s/%s:\n  want %q %q\n  got  %q %q\n", dir, tc.InputPath,
				tc.HealthStatus.Status, tc.HealthStatus.Message, got.Status, got.Message)
		default:
			fmt.Printf("ok   %s/%s: %s %q\n", dir, tc.InputPath, got.Status, got.Message)
		}
	}
	return len(tests.Tests), failed, nil
}

func runCase(script, inputPath string) (healthStatus, error) {
	raw, err := os.ReadFile(inputPath)
	if err != nil {
		return healthStatus{}, err
	}
	var obj map[string]any
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		return healthStatus{}, fmt.Errorf("%s: %w", inputPath, err)
	}
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return healthStatus{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return healthStatus{}, err
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return healthStatus{}, fmt.Errorf("expect table output from Lua script, not %s", l.Get(-1).Type())
	}
	got := healthStatus{Status: field(table, "status"), Message: field(table, "message")}
	if !validStatuses[got.Status] {
		return healthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return got, nil
}

func field(t *lua.LTable, name string) string {
	if s, ok := t.RawGetString(name).(lua.LString); ok {
		return string(s)
	}
	return ""
}

// toLua converts decoded YAML as Argo CD's decodeValue converts an unstructured object: maps to
// tables keyed by string, lists to 1-based array tables, numbers to Lua numbers.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case uint64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case time.Time:
		// Argo CD sees timestamps as the strings the API server sends.
		return lua.LString(v.UTC().Format(time.RFC3339))
	case map[string]any:
		t := l.NewTable()
		for k, item := range v {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	case []any:
		t := l.NewTable()
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	default:
		return lua.LString(fmt.Sprint(v))
	}
}
