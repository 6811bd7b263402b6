package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type envVar struct {
	Key           string         `yaml:"key"`
	Value         *string        `yaml:"value"`
	Sync          *bool          `yaml:"sync"`
	GenerateValue bool           `yaml:"generateValue"`
	FromDatabase  map[string]any `yaml:"fromDatabase"`
	FromService   map[string]any `yaml:"fromService"`
}

type service struct {
	Type             string   `yaml:"type"`
	Name             string   `yaml:"name"`
	Runtime          string   `yaml:"runtime"`
	Plan             string   `yaml:"plan"`
	DockerCommand    string   `yaml:"dockerCommand"`
	StartCommand     string   `yaml:"startCommand"`
	PreDeployCommand string   `yaml:"preDeployCommand"`
	HealthCheckPath  string   `yaml:"healthCheckPath"`
	MaxShutdownDelay int      `yaml:"maxShutdownDelaySeconds"`
	IPAllowList      *[]any   `yaml:"ipAllowList"`
	EnvVars          []envVar `yaml:"envVars"`
}

type blueprint struct {
	Services  []service `yaml:"services"`
	Databases []struct {
		Name string `yaml:"name"`
		Plan string `yaml:"plan"`
	} `yaml:"databases"`
}

func (s service) env(key string) *envVar {
	for i := range s.EnvVars {
		if s.EnvVars[i].Key == key {
			return &s.EnvVars[i]
		}
	}
	return nil
}

func (s service) command() string {
	if s.DockerCommand != "" {
		return s.DockerCommand
	}
	return s.StartCommand
}

func TestRenderBlueprint(t *testing.T) {
	raw, err := os.ReadFile("../../render.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var bp blueprint
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&bp); err != nil {
		t.Fatalf("render.yaml does not parse: %v", err)
	}
	byCmd := map[string]service{}
	var kv *service
	for i, s := range bp.Services {
		if s.Plan == "" || s.Plan == "free" {
			t.Errorf("service %s: plan %q, want an explicit paid plan (preDeployCommand runs only on paid instances)", s.Name, s.Plan)
		}
		switch s.Type {
		case "keyvalue":
			kv = &bp.Services[i]
		case "worker":
			t.Errorf("service %s is type worker: a background worker receives no inbound traffic", s.Name)
		default:
			byCmd[s.command()] = s
		}
	}
	if len(bp.Databases) != 1 || bp.Databases[0].Name == "" || bp.Databases[0].Plan == "" || bp.Databases[0].Plan == "free" {
		t.Fatalf("databases %+v: want one managed PostgreSQL with a paid plan", bp.Databases)
	}
	dbName := bp.Databases[0].Name
	if kv == nil {
		t.Fatal("no Key Value (type keyvalue) service")
	}
	if kv.IPAllowList == nil {
		t.Fatal("Key Value without ipAllowList")
	}

	api, ok := byCmd["web serve"]
	if !ok {
		t.Fatalf("no service running `web serve` (services %v)", byCmd)
	}
	rt, ok := byCmd["worker serve"]
	if !ok {
		t.Fatalf("no service running `worker serve`")
	}
	for _, s := range []service{api, rt} {
		if s.Type != "web" {
			t.Errorf("%s: type %q, want web (must receive traffic)", s.Name, s.Type)
		}
		if s.HealthCheckPath != "/readyz" {
			t.Errorf("%s: healthCheckPath %q", s.Name, s.HealthCheckPath)
		}
		// SIGTERM: the drain, then in-flight requests; the platform must wait for both.
		drain, timeout := 5, 10 // SHUTDOWN_DRAIN_SECONDS, SHUTDOWN_TIMEOUT_SECONDS defaults
		for _, e := range []struct {
			key string
			n   *int
		}{{"SHUTDOWN_DRAIN_SECONDS", &drain}, {"SHUTDOWN_TIMEOUT_SECONDS", &timeout}} {
			if v := s.env(e.key); v != nil && v.Value != nil {
				if _, err := fmt.Sscan(*v.Value, e.n); err != nil {
					t.Errorf("%s: %s %q", s.Name, e.key, *v.Value)
				}
			}
		}
		if s.MaxShutdownDelay < drain+timeout {
			t.Errorf("%s: maxShutdownDelaySeconds %d < drain %d + timeout %d", s.Name, s.MaxShutdownDelay, drain, timeout)
		}
		d := s.env("DATABASE_URL")
		if d == nil || d.FromDatabase["name"] != dbName || d.FromDatabase["property"] != "connectionString" {
			t.Errorf("%s: DATABASE_URL %+v, want fromDatabase %s connectionString", s.Name, d, dbName)
		}
		r := s.env("REDIS_URL")
		if r == nil || r.FromService["type"] != "keyvalue" || r.FromService["name"] != kv.Name || r.FromService["property"] != "connectionString" {
			t.Errorf("%s: REDIS_URL %+v, want fromService keyvalue %s connectionString", s.Name, r, kv.Name)
		}
		if k := s.env("SECRET_KEY"); k == nil || (!k.GenerateValue && k.FromService == nil) {
			t.Errorf("%s: SECRET_KEY %+v, want generated", s.Name, k)
		}
		if v := s.env("DEBUG"); v != nil && (v.Value == nil || *v.Value != "false") {
			t.Errorf("%s: DEBUG must be false", s.Name)
		}
		if v := s.env("METRICS_PORT"); v == nil || v.Value == nil || *v.Value == "" || *v.Value == "0" || *v.Value == "10000" {
			t.Errorf("%s: METRICS_PORT %+v: /metrics must move off the public port", s.Name, v)
		}
		if v := s.env("TRUSTED_PROXY_HOPS"); v == nil || v.Value == nil || *v.Value != "1" {
			t.Errorf("%s: TRUSTED_PROXY_HOPS %+v: behind Render's proxy the client is the last X-Forwarded-For entry", s.Name, v)
		}
	}
	if api.PreDeployCommand != "web migrate" {
		t.Errorf("api preDeployCommand %q, want web migrate", api.PreDeployCommand)
	}
	if k := api.env("SECRET_KEY"); k == nil || !k.GenerateValue {
		t.Errorf("api SECRET_KEY must be generateValue: true")
	}
	for _, key := range []string{"CLERK_FRONTEND_API_URL", "CLERK_WEBHOOK_SIGNING_SECRET", "DEPLOYMENT_HOST", "CORS_ALLOWED_ORIGINS"} {
		v := api.env(key)
		if v == nil || v.Sync == nil || *v.Sync || v.Value != nil {
			t.Errorf("api %s: %+v, want sync: false and no value in the file", key, v)
		}
	}
	w := api.env("WORKER_URL")
	if w == nil || w.FromService["name"] != rt.Name || w.FromService["type"] != "web" || w.FromService["property"] != "hostport" {
		t.Errorf("api WORKER_URL %+v, want fromService web %s hostport", w, rt.Name)
	}
	// Every secret-looking value stays out of the file.
	for _, s := range bp.Services {
		for _, e := range s.EnvVars {
			if e.Value != nil && (strings.Contains(e.Key, "SECRET") || strings.Contains(e.Key, "KEY")) {
				t.Errorf("%s: %s has a literal value in render.yaml", s.Name, e.Key)
			}
		}
	}
}

func TestProcfile(t *testing.T) {
	raw, err := os.ReadFile("../../Procfile")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"web": "web serve", "worker": "worker serve", "release": "web migrate"}
	got := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			got[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Procfile %s: %q, want %q", k, got[k], v)
		}
	}
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/web", "./cmd/worker", "-trimpath", "/usr/local/bin", "EXPOSE 8000", `CMD ["web", "serve"]`} {
		if !strings.Contains(s, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if strings.Count("\n"+s, "\nFROM ") < 2 || !strings.Contains(s, "COPY --from=") {
		t.Error("Dockerfile is not multi-stage")
	}
	final := s[strings.LastIndex(s, "\nFROM "):]
	user := ""
	for _, line := range strings.Split(final, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "USER" {
			user = f[1]
		}
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0:") || user == "0" {
		t.Errorf("final image runs as %q, want a non-root user", user)
	}
}
