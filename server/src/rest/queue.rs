//! The upload queue: a fixed number of places (an upload holds one while its body arrives
//! and is stored), and a bounded line of uploads waiting for one. The line is first come,
//! first served within a team and takes teams in turn, so one team's burst cannot starve
//! another; a waiter that cannot be served by its deadline is told when to come back, from
//! the rate at which places really come free.

use app::domain::TeamId;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Sizes of the queue.
#[derive(Clone, Copy, Debug)]
pub struct QueueLimits {
    /// Uploads holding a place at once.
    pub places: usize,
    /// Uploads waiting for a place at most; beyond it, refused.
    pub capacity: usize,
    /// Longest wait for a place; an upload expected to wait longer is refused at once.
    pub deadline: Duration,
}

/// The queue. Cheap to clone.
#[derive(Clone)]
pub struct Queue(Arc<Shared>);

struct Shared {
    limits: QueueLimits,
    state: Mutex<State>,
}

struct State {
    free: usize,
    /// Teams with waiters, in the order they are next served.
    turn: VecDeque<TeamId>,
    waiting: HashMap<TeamId, VecDeque<(u64, oneshot::Sender<()>)>>,
    len: usize,
    next_ticket: u64,
    /// How long a place is held, on average (an exponential moving average).
    held: Duration,
}

/// Where a refused upload stood, and how long it would have waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// 1 = next to be served.
    pub position: usize,
    pub expected_wait: Duration,
    pub full: bool,
}

/// The queue as a caller would find it now.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct Status {
    /// Places in use.
    pub in_progress: usize,
    pub places: usize,
    /// Uploads waiting for a place, all teams.
    pub waiting: usize,
    /// Of those, the caller's team's.
    pub waiting_for_team: usize,
    /// The position a new upload from the caller's team would take (1 = next).
    pub position: usize,
    /// Seconds a new upload from the caller's team is expected to wait for a place.
    pub expected_wait_seconds: u64,
    /// Uploads finished per second, as measured recently.
    pub drain_per_second: f64,
}

/// A place in the queue, given back when dropped.
pub struct Place {
    queue: Queue,
    since: Instant,
    /// How long the upload waited for it.
    pub waited: Duration,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut state = self.queue.state();
        state.record(self.since.elapsed());
        state.release();
    }
}

/// A waiter's ticket: if it is dropped while waiting (the client went away), the waiter
/// leaves the line, or gives back the place it was granted meanwhile.
struct Ticket<'a> {
    queue: &'a Queue,
    team: TeamId,
    number: u64,
    granted: Option<oneshot::Receiver<()>>,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Some(mut granted) = self.granted.take() {
            let mut state = self.queue.state();
            if !state.leave(self.team, self.number) && granted.try_recv().is_ok() {
                state.release();
            }
        }
    }
}

/// The guess of how long a place is held before any upload has finished.
const FIRST_GUESS: Duration = Duration::from_secs(1);

impl Queue {
    pub fn new(limits: QueueLimits) -> Self {
        let limits = QueueLimits { places: limits.places.max(1), ..limits };
        let state = State {
            free: limits.places,
            turn: VecDeque::new(),
            waiting: HashMap::new(),
            len: 0,
            next_ticket: 0,
            held: FIRST_GUESS,
        };
        Self(Arc::new(Shared { limits, state: Mutex::new(state) }))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a place for an upload of `team`, up to the deadline.
    pub async fn enter(&self, team: TeamId) -> Result<Place, Refusal> {
        let arrived = Instant::now();
        let limits = self.0.limits;
        let (number, granted) = {
            let mut state = self.state();
            if state.free > 0 && state.len == 0 {
                state.free -= 1;
                return Ok(self.place(arrived));
            }
            let position = state.ahead(team) + 1;
            let expected_wait = state.wait_for(position, limits.places);
            let full = state.len >= limits.capacity;
            if full || expected_wait > limits.deadline {
                return Err(Refusal { position, expected_wait, full });
            }
            let (send, granted) = oneshot::channel();
            let number = state.next_ticket;
            state.next_ticket += 1;
            let line = state.waiting.entry(team).or_default();
            line.push_back((number, send));
            if line.len() == 1 {
                state.turn.push_back(team);
            }
            state.len += 1;
            // A place free while others wait (never expected): the line's head takes it.
            while state.free > 0 && state.len > 0 {
                state.free -= 1;
                state.release();
            }
            (number, granted)
        };
        let mut ticket = Ticket { queue: self, team, number, granted: Some(granted) };
        let waited = tokio::time::timeout(limits.deadline, ticket.granted.as_mut().expect("set above")).await;
        let mut state = self.state();
        match waited {
            Ok(Ok(())) => {}
            // The queue went away without granting (never expected): no place was given.
            Ok(Err(_)) => {
                ticket.granted = None;
                return Err(Refusal { position: 1, expected_wait: state.held, full: false });
            }
            // Still in line at the deadline: leave it, and say how far it had got.
            _ if state.leave(team, number) => {
                ticket.granted = None;
                let position = state.ahead(team) + 1;
                let expected_wait = state.wait_for(position, limits.places);
                return Err(Refusal { position, expected_wait, full: false });
            }
            // Granted just as the deadline passed: the place is this upload's.
            _ => {}
        }
        ticket.granted = None;
        drop(state);
        Ok(self.place(arrived))
    }

    fn place(&self, arrived: Instant) -> Place {
        let now = Instant::now();
        Place { queue: self.clone(), since: now, waited: now - arrived }
    }

    /// The queue as an upload of `team` would find it now.
    pub fn status(&self, team: TeamId) -> Status {
        let limits = self.0.limits;
        let state = self.state();
        let position = if state.free > 0 && state.len == 0 { 0 } else { state.ahead(team) + 1 };
        Status {
            in_progress: limits.places - state.free,
            places: limits.places,
            waiting: state.len,
            waiting_for_team: state.waiting.get(&team).map_or(0, VecDeque::len),
            position,
            expected_wait_seconds: state.wait_for(position, limits.places).as_secs_f64().ceil() as u64,
            drain_per_second: limits.places as f64 / state.held.as_secs_f64().max(0.001),
        }
    }
}

impl State {
    /// How many waiters are served before the next upload of `team` to join: the team's own,
    /// and of every other team as many as take their turn before it.
    fn ahead(&self, team: TeamId) -> usize {
        let own = self.waiting.get(&team).map_or(0, VecDeque::len);
        let others: usize =
            self.waiting.iter().filter(|(t, _)| **t != team).map(|(_, line)| line.len().min(own + 1)).sum();
        own + others
    }

    /// The expected wait of the waiter at `position`: places come free at `places` per
    /// average hold.
    fn wait_for(&self, position: usize, places: usize) -> Duration {
        self.held.mul_f64(position as f64 / places as f64)
    }

    /// Counts a place held for `held` into the average.
    fn record(&mut self, held: Duration) {
        self.held = (self.held * 4 + held) / 5;
    }

    /// Takes a waiter out of line; false if it is no longer in it (it was granted a place).
    fn leave(&mut self, team: TeamId, number: u64) -> bool {
        let Some(line) = self.waiting.get_mut(&team) else { return false };
        let Some(index) = line.iter().position(|(n, _)| *n == number) else { return false };
        line.remove(index);
        self.len -= 1;
        if line.is_empty() {
            self.waiting.remove(&team);
            self.turn.retain(|t| *t != team);
        }
        true
    }

    /// Gives a place to the next waiter, team by team in turn, or frees it.
    fn release(&mut self) {
        while let Some(team) = self.turn.pop_front() {
            let line = self.waiting.get_mut(&team).expect("a team in turn has waiters");
            let (_, send) = line.pop_front().expect("a team in line has a waiter");
            self.len -= 1;
            if line.is_empty() {
                self.waiting.remove(&team);
            } else {
                self.turn.push_back(team);
            }
            // A waiter whose ticket is gone has left; the place goes to the next.
            if send.send(()).is_ok() {
                return;
            }
        }
        self.free += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(places: usize, capacity: usize, deadline_ms: u64) -> Queue {
        Queue::new(QueueLimits { places, capacity, deadline: Duration::from_millis(deadline_ms) })
    }

    /// Starts `n` waiters of `team` in order; each reports (team, index) when served.
    fn wait_in_line(
        q: &Queue,
        team: i64,
        n: usize,
        served: &tokio::sync::mpsc::UnboundedSender<(i64, usize, Place)>,
    ) {
        for i in 0..n {
            let (q, served) = (q.clone(), served.clone());
            tokio::spawn(async move {
                let place = q.enter(TeamId(team)).await.expect("served");
                let _ = served.send((team, i, place));
            });
        }
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_team_waits_its_turn_in_order_and_another_team_is_not_starved() {
        let q = queue(1, 100, 60_000);
        let first = q.enter(TeamId(1)).await.expect("a free place");
        let (send, mut served) = tokio::sync::mpsc::unbounded_channel();
        wait_in_line(&q, 1, 5, &send);
        settle().await;
        wait_in_line(&q, 2, 2, &send);
        settle().await;
        assert_eq!(q.status(TeamId(1)).waiting, 7);
        drop(first);
        let mut order = Vec::new();
        for _ in 0..7 {
            let (team, i, place) = served.recv().await.expect("served");
            order.push((team, i));
            drop(place);
        }
        // Team 1 queued five first; team 2's two are served in turn, not after all five.
        assert_eq!(order, [(1, 0), (2, 0), (1, 1), (2, 1), (1, 2), (1, 3), (1, 4)]);
        assert_eq!(q.status(TeamId(1)).in_progress, 0);
    }

    #[tokio::test]
    async fn a_full_line_refuses_with_its_position_and_a_wait_from_the_drain_rate() {
        let q = queue(2, 2, 60_000);
        let held = [q.enter(TeamId(1)).await.expect("place"), q.enter(TeamId(1)).await.expect("place")];
        let (send, _served) = tokio::sync::mpsc::unbounded_channel();
        wait_in_line(&q, 1, 2, &send);
        settle().await;
        let refused = q.enter(TeamId(1)).await.err().expect("the line is full");
        assert!(refused.full);
        assert_eq!(refused.position, 3);
        // Before any upload finished, a place is guessed to be held FIRST_GUESS: two places,
        // third in line → 1.5 holds.
        assert_eq!(refused.expected_wait, FIRST_GUESS.mul_f64(1.5));
        drop(held);
    }

    #[tokio::test]
    async fn the_expected_wait_follows_how_long_places_are_really_held() {
        let q = queue(1, 10, 600_000);
        for _ in 0..40 {
            q.state().record(Duration::from_secs(4));
        }
        assert_eq!(q.status(TeamId(1)).position, 0, "a free place needs no wait");
        let _held = q.enter(TeamId(1)).await.expect("free");
        let status = q.status(TeamId(2));
        assert_eq!((status.position, status.expected_wait_seconds), (1, 4));
        assert!((status.drain_per_second - 0.25).abs() < 0.01, "{status:?}");
    }

    #[tokio::test]
    async fn a_waiter_past_its_deadline_leaves_the_line_and_a_departed_one_keeps_no_place() {
        let q = queue(1, 10, 50);
        for _ in 0..40 {
            q.state().record(Duration::from_millis(10));
        }
        let held = q.enter(TeamId(1)).await.expect("place");
        // Expected to wait about 10 ms, so it joins the line; nothing frees a place in 50 ms.
        let started = Instant::now();
        let refused = q.enter(TeamId(2)).await.err().expect("deadline");
        assert!(started.elapsed() >= Duration::from_millis(50), "it waited in line");
        assert_eq!((refused.full, refused.position), (false, 1));
        assert_eq!(q.status(TeamId(2)).waiting, 0);
        // A waiter whose client goes away is dropped while waiting.
        let q2 = q.clone();
        let gone = tokio::spawn(async move { q2.enter(TeamId(3)).await.map(|_| ()) });
        settle().await;
        assert_eq!(q.status(TeamId(3)).waiting, 1);
        gone.abort();
        let _ = gone.await;
        assert_eq!(q.status(TeamId(3)).waiting, 0);
        drop(held);
        assert_eq!(q.status(TeamId(3)).in_progress, 0, "the place came back");
        let again = q.enter(TeamId(3)).await.expect("the place is free");
        drop(again);
    }
}
