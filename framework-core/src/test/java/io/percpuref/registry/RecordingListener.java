package io.percpuref.registry;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Records every event as {@code "event:name"} (and the payloads), in arrival order. */
final class RecordingListener implements RefListener {

    final List<String> events = new CopyOnWriteArrayList<>();
    final List<RefInfo> released = new CopyOnWriteArrayList<>();
    final List<RefInfo> stuck = new CopyOnWriteArrayList<>();
    final List<LeakReport> leaks = new CopyOnWriteArrayList<>();

    @Override
    public void onRegistered(RefInfo info) {
        events.add("registered:" + info.name());
    }

    @Override
    public void onKilled(RefInfo info) {
        events.add("killed:" + info.name());
    }

    @Override
    public void onConfirmed(RefInfo info) {
        events.add("confirmed:" + info.name());
    }

    @Override
    public void onReleased(RefInfo info) {
        released.add(info);
        events.add("released:" + info.name());
    }

    @Override
    public void onLeak(LeakReport report) {
        leaks.add(report);
        events.add("leak:" + report.refName());
    }

    @Override
    public void onStuck(RefInfo info) {
        stuck.add(info);
        events.add("stuck:" + info.name());
    }
}
