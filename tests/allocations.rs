//! The allow path allocates nothing: a callback whose message is clean is
//! answered from the request's bytes and static answer bytes alone, once
//! the thread's scratch buffers are warm. A separate test binary, because
//! it counts every allocation through its own global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime};

use wordgate::auth::Auth;
use wordgate::config::FailPolicy;
use wordgate::webhook::Webhook;
use wordgate::{DictionarySource, Engine};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations_in(work: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    work();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn a_clean_callback_allocates_nothing() {
    let engine = Engine::build(&[
        DictionarySource::new("ban.txt", "@action reject\n@code 120009\nred envelope\n赌博\n"),
        DictionarySource::new("rude.txt", "@action mask\ndarn\n"),
    ])
    .expect("dictionaries");
    let webhook = Webhook::new(
        Auth::new(vec![1400000001], None, Duration::from_secs(60)),
        FailPolicy::Allow,
        Duration::from_secs(1),
    );
    let samples: [(&str, &[u8]); 3] = [
        ("OfficialAccount", include_bytes!("data/samples/oa-before-send.request.json")),
        ("C2C", include_bytes!("data/samples/c2c-before-send.request.json")),
        ("Group", include_bytes!("data/samples/group-before-send.request.json")),
    ];
    for (kind, body) in samples {
        let query =
            format!("SdkAppid=1400000001&CallbackCommand={kind}.CallbackBeforeSendMsg&contenttype=json");
        let handle = || webhook.handle(&engine, Some(&query), body, SystemTime::UNIX_EPOCH, Instant::now());
        // Warm: the thread's folding and scanning buffers.
        let warm = handle();
        assert_eq!(&warm.body[..], br#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#);
        let mut reply = None;
        let count = allocations_in(|| reply = Some(handle()));
        assert_eq!(reply.map(|reply| reply.body), Some(warm.body));
        assert_eq!(count, 0, "{kind}: the allow path allocated");
    }
    // The counter counts: a hit allocates (its rendered hit, at least).
    let body = String::from_utf8_lossy(samples[0].1).replace("red packet", "赌博").into_bytes();
    let query = "SdkAppid=1400000001&CallbackCommand=OfficialAccount.CallbackBeforeSendMsg";
    let count = allocations_in(|| {
        let reply = webhook.handle(&engine, Some(query), &body, SystemTime::UNIX_EPOCH, Instant::now());
        assert!(String::from_utf8_lossy(&reply.body).contains("120009"));
    });
    assert!(count > 0);
}
