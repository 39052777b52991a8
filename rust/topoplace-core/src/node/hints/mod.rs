//! NUMA hint merging. PLACEHOLDER: being written.
