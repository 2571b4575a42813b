//! Locking that a panic elsewhere cannot turn into a panic here. Every simulator mutex
//! guards plain counters and tables that each critical section leaves consistent before
//! anything can panic, so a poisoned lock still holds usable data: recovering it keeps
//! one request's bug from taking down every later request (and the simulator with them).
//!
//! It sits at the bottom of the simulator, below the budgets and the shared state, so
//! every file can lock with it without importing anything above it.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub(super) trait LockRecover<T> {
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> LockRecover<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
