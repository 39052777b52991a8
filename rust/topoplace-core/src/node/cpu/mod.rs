//! CPU picking. PLACEHOLDER: being written.
