//! The real-filesystem `FileSource` behind `Topology.from_sysfs`: it maps the absolute sysfs
//! paths the core asks for onto a root directory (`/` for this machine, or a fixture tree).

use std::path::{Path, PathBuf};

use topoplace_core::parse::sysfs::FileSource;

/// Reads files below `root`.
pub(crate) struct DiskSource {
    root: PathBuf,
}

impl DiskSource {
    pub(crate) fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    fn resolve(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }
}

impl FileSource for DiskSource {
    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.resolve(path)).ok()
    }

    fn list(&self, dir: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.resolve(dir)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok().and_then(|e| e.file_name().into_string().ok()))
            .collect();
        names.sort_unstable();
        names
    }

    fn link(&self, path: &str) -> Option<String> {
        std::fs::read_link(self.resolve(path))
            .ok()
            .and_then(|p| p.into_os_string().into_string().ok())
    }
}
