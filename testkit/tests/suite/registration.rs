//! Registration and approval through the real binaries, on both databases.
