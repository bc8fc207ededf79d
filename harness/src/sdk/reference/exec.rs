//! The JS thread of the reference SDK: promises and a microtask queue.
//!
//! React Native runs an SDK's JavaScript on one thread. Work arrives as *macrotasks* (a timer
//! firing, a response reaching JS) and every promise continuation runs as a *microtask* before
//! the next macrotask. The reference SDK keeps that shape: its flows are `async fn`s — a
//! `getToken` call awaits the shared in-flight fetch, an API call awaits the backend and then
//! the refresh — spawned on this [`Executor`], and they suspend on [`Promise`]s that a
//! macrotask resolves. Continuations run in the order their promises were resolved and, for
//! one promise, in the order its waiters started waiting: first come, first served, exactly
//! like JS. That order is part of the trace, so it is deterministic by construction rather
//! than left to a scheduler.
//!
//! Macrotasks (timers, deliveries) and the virtual clock live in `js/lifecycle.rs`; this file
//! knows nothing about sessions. Each task remembers the SDK instance that spawned it (its
//! `tag`, `js/instances.rs`): [`Executor::run_tagged`] tells the caller whose task is next, so
//! the caller can swap that instance's state in before the task resumes.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// A value that is resolved once and awaited by any number of tasks.
pub struct Promise<T>(Rc<RefCell<PromiseCell<T>>>);

struct PromiseCell<T> {
    value: Option<T>,
    waiters: Vec<Waker>,
}

impl<T> Clone for Promise<T> {
    fn clone(&self) -> Self {
        Promise(self.0.clone())
    }
}

impl<T: Clone> Default for Promise<T> {
    fn default() -> Self {
        Promise::new()
    }
}

impl<T: Clone> Promise<T> {
    pub fn new() -> Promise<T> {
        Promise(Rc::new(RefCell::new(PromiseCell { value: None, waiters: Vec::new() })))
    }

    /// Resolves the promise; waiters run, in the order they started waiting, at the next
    /// microtask checkpoint. A second resolution is ignored, as in JS.
    pub fn resolve(&self, value: T) {
        let waiters = {
            let mut cell = self.0.borrow_mut();
            if cell.value.is_some() {
                return;
            }
            cell.value = Some(value);
            std::mem::take(&mut cell.waiters)
        };
        for w in waiters {
            w.wake();
        }
    }

    /// Waits for the value.
    pub fn wait(&self) -> Wait<T> {
        Wait { promise: self.clone(), registered: false }
    }
}

/// The future of [`Promise::wait`].
pub struct Wait<T> {
    promise: Promise<T>,
    registered: bool,
}

impl<T: Clone> Future for Wait<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut cell = self.promise.0.borrow_mut();
        if let Some(v) = &cell.value {
            return Poll::Ready(v.clone());
        }
        // Register once: a task's waker never changes, and registering again on a spurious
        // poll would run the continuation twice.
        if !self.registered {
            cell.waiters.push(cx.waker().clone());
            drop(cell);
            self.registered = true;
        }
        Poll::Pending
    }
}

/// One promise hop: the task goes to the back of the microtask queue, so the tasks already
/// woken run first (as a `.then` continuation runs after those registered on the promise).
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

type Task = Pin<Box<dyn Future<Output = ()>>>;

struct TaskWaker {
    id: u64,
    ready: Arc<Mutex<VecDeque<u64>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.lock().unwrap_or_else(|e| e.into_inner()).push_back(self.id);
    }
}

/// The microtask queue: JS tasks, polled in the order they were woken.
#[derive(Default)]
pub struct Executor {
    tasks: RefCell<BTreeMap<u64, (Task, Waker, usize)>>,
    ready: Arc<Mutex<VecDeque<u64>>>,
    next: std::cell::Cell<u64>,
    /// The tag a task spawned now gets: the SDK instance running.
    tag: std::cell::Cell<usize>,
}

impl Executor {
    /// Starts a task; its first poll happens at the next microtask checkpoint.
    pub fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        let id = self.next.get();
        self.next.set(id + 1);
        let waker = Waker::from(Arc::new(TaskWaker { id, ready: self.ready.clone() }));
        self.tasks.borrow_mut().insert(id, (Box::pin(task), waker, self.tag.get()));
        self.ready.lock().unwrap_or_else(|e| e.into_inner()).push_back(id);
    }

    /// Sets the tag of the tasks spawned from now on.
    pub fn set_tag(&self, tag: usize) {
        self.tag.set(tag);
    }

    /// Runs microtasks until none is ready. Returns whether any ran.
    pub fn run(&self) -> bool {
        self.run_tagged(|_| {})
    }

    /// Runs microtasks until none is ready, calling `enter` with each task's tag before it
    /// resumes. Returns whether any ran.
    pub fn run_tagged(&self, mut enter: impl FnMut(usize)) -> bool {
        let mut ran = false;
        loop {
            let next = self.ready.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
            let Some(id) = next else {
                return ran;
            };
            // Taken out while polled, so the task may spawn others or be woken again.
            let Some((mut task, waker, tag)) = self.tasks.borrow_mut().remove(&id) else {
                continue;
            };
            ran = true;
            enter(tag);
            let mut cx = Context::from_waker(&waker);
            if task.as_mut().poll(&mut cx).is_pending() {
                self.tasks.borrow_mut().insert(id, (task, waker, tag));
            }
        }
    }

    /// Drops every task: the JS runtime died (kill, JS reload).
    pub fn clear(&self) {
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        self.ready.lock().unwrap_or_else(|e| e.into_inner()).clear();
        drop(tasks);
    }

    /// Drops the tasks of one tag: that instance's JS runtime died. A ready entry of a
    /// dropped task finds nothing when its turn comes.
    pub fn clear_tag(&self, tag: usize) {
        let dropped: Vec<(Task, Waker, usize)> =
            self.tasks.borrow_mut().extract_if(.., |_, t| t.2 == tag).map(|(_, t)| t).collect();
        drop(dropped);
    }

    pub fn len(&self) -> usize {
        self.tasks.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_resume_in_the_order_they_waited() {
        let exec = Executor::default();
        let p: Promise<u32> = Promise::new();
        let order = Rc::new(RefCell::new(Vec::new()));
        for i in 0..3 {
            let (p, order) = (p.clone(), order.clone());
            exec.spawn(async move {
                let v = p.wait().await;
                order.borrow_mut().push((i, v));
            });
        }
        exec.run();
        assert!(order.borrow().is_empty(), "nobody resumes before the resolution");
        p.resolve(7);
        p.resolve(8);
        exec.run();
        assert_eq!(*order.borrow(), vec![(0, 7), (1, 7), (2, 7)]);
        assert!(exec.is_empty());
    }
}
