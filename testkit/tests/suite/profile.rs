//! profile flows through the real binaries, on both databases.
