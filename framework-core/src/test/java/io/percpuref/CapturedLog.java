package io.percpuref;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Captures what a class logs through {@link System.Logger} (whose default backend is
 * {@code java.util.logging}) while it is open: {@code try (CapturedLog log = CapturedLog.of(...))}.
 * Test support only.
 */
public final class CapturedLog extends Handler implements AutoCloseable {

    private final Logger logger;
    private final Predicate<LogRecord> filter;
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();

    private CapturedLog(Class<?> source, Predicate<LogRecord> filter) {
        this.logger = Logger.getLogger(source.getName());
        this.filter = filter;
        logger.addHandler(this);
    }

    /** Starts capturing the records of {@code source}'s logger that {@code filter} accepts. */
    public static CapturedLog of(Class<?> source, Predicate<LogRecord> filter) {
        return new CapturedLog(source, filter);
    }

    /** The records captured so far, in order. */
    public List<LogRecord> records() {
        return records;
    }

    /** The messages of the records captured so far, in order. */
    public List<String> messages() {
        return records.stream().map(LogRecord::getMessage).toList();
    }

    @Override
    public void publish(LogRecord record) {
        if (filter.test(record)) {
            records.add(record);
        }
    }

    @Override
    public void flush() {
    }

    /** Stops capturing. */
    @Override
    public void close() {
        logger.removeHandler(this);
    }
}
