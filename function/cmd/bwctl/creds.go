package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ecs-bandwidth-autoscaler/autoscaler/function/ecsapi"
)

// cliConfig is the part of ~/.aliyun/config.json bwctl reads.
type cliConfig struct {
	Current  string `json:"current"`
	Profiles []struct {
		Name            string `json:"name"`
		Mode            string `json:"mode"`
		AccessKeyID     string `json:"access_key_id"`
		AccessKeySecret string `json:"access_key_secret"`
		StsToken        string `json:"sts_token"`
		RegionID        string `json:"region_id"`
	} `json:"profiles"`
}

// loadCredentials follows the standard chain: the ALIBABA_CLOUD_* variables,
// else the aliyun CLI profile (ALIBABA_CLOUD_PROFILE, else the current one)
// in AK or StsToken mode. It returns the profile's region too, and where
// the credentials came from (never the credentials themselves).
func loadCredentials(getenv func(string) string) (ecsapi.Credentials, string, string, error) {
	if id := getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"); id != "" {
		c := ecsapi.Credentials{AccessKeyID: id, AccessKeySecret: getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET"), SecurityToken: getenv("ALIBABA_CLOUD_SECURITY_TOKEN")}
		if c.AccessKeySecret == "" {
			return c, "", "", errors.New("credentials: ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is not")
		}
		return c, "", "environment variables", nil
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	path := filepath.Join(home, ".aliyun", "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return ecsapi.Credentials{}, "", "", fmt.Errorf("no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or configure the aliyun CLI (%s: %v)", path, errors.Unwrap(err))
	}
	var cfg cliConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return ecsapi.Credentials{}, "", "", fmt.Errorf("credentials: %s is not valid JSON: %v", path, err)
	}
	name := firstNonEmpty(getenv("ALIBABA_CLOUD_PROFILE"), cfg.Current, "default")
	for _, p := range cfg.Profiles {
		if p.Name != name {
			continue
		}
		source := fmt.Sprintf("aliyun CLI profile %q", name)
		switch p.Mode {
		case "AK", "":
			return ecsapi.Credentials{AccessKeyID: p.AccessKeyID, AccessKeySecret: p.AccessKeySecret}, p.RegionID, source, nil
		case "StsToken":
			return ecsapi.Credentials{AccessKeyID: p.AccessKeyID, AccessKeySecret: p.AccessKeySecret, SecurityToken: p.StsToken}, p.RegionID, source, nil
		default:
			return ecsapi.Credentials{}, "", "", fmt.Errorf("credentials: %s has mode %q; bwctl reads AK and StsToken profiles (or set the ALIBABA_CLOUD_* variables)", source, p.Mode)
		}
	}
	return ecsapi.Credentials{}, "", "", fmt.Errorf("credentials: no profile %q in %s", name, path)
}
