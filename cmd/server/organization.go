package server

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/exlab/exlab/config"
)

// OrganizationFile is where a server that runs on the embedded default keeps its organization
// once a cmdlet changes it (DATA/organization.yaml); SIGHUP and later edits read it from then on.
const OrganizationFile = "organization.yaml"

// configFile is the organization file SIGHUP reads ("" for the embedded default).
func (s *services) configFile() string {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	return s.cfg
}

// organizationSource is adminapi.Options.Organization: the file the server runs on, as it is
// on disk, or the embedded default.
func (s *services) organizationSource() (string, []byte, error) {
	path := s.configFile()
	if path == "" {
		return "", config.DefaultYAML, nil
	}
	b, err := os.ReadFile(path)
	return path, b, err
}

// setOrganization is adminapi.Options.SetOrganization: src is validated first (an invalid
// organization changes nothing), written atomically over the file the server runs on (a .bak
// beside it; on the embedded default, to DATA/organization.yaml) and applied through the
// service loop as exlab config apply is.
func (s *services) setOrganization(applies chan<- applyRequest) func([]byte) (string, error) {
	apply := applyVia(applies)
	return func(src []byte) (string, error) {
		path := s.configFile()
		if path == "" {
			path = filepath.Join(s.o.DataDir, OrganizationFile)
		}
		org, err := config.Parse(path, src)
		if err != nil {
			return path, err
		}
		if org.Server(s.srv.Name) == nil {
			return path, fmt.Errorf("%s: the organization has no server %s, which this exlab runs as", path, s.srv.Name)
		}
		if err := config.WriteFile(path, src); err != nil {
			return path, err
		}
		return path, apply(path)
	}
}
