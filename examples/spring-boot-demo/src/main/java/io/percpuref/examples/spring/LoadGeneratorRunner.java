package io.percpuref.examples.spring;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

import java.net.URI;

/**
 * Runs the {@link LoadGenerator} against this application's own port, on loopback, once the
 * application is ready, when {@code demo.load.enabled=true}; settings {@code demo.load.*}. The
 * generator stops by itself; closing the application stops it earlier, before the drain starts.
 */
@Component
@ConditionalOnBooleanProperty("demo.load.enabled")
class LoadGeneratorRunner {

    private static final Logger log = LoggerFactory.getLogger(LoadGeneratorRunner.class);

    private final DemoProperties properties;
    private volatile LoadGenerator generator;

    LoadGeneratorRunner(DemoProperties properties) {
        this.properties = properties;
    }

    @EventListener
    void start(ApplicationReadyEvent ready) {
        Integer port = ready.getApplicationContext().getEnvironment().getProperty("local.server.port", Integer.class);
        if (port == null) {
            log.warn("demo.load.enabled=true, but this is not a web application with a port: no load generated");
            return;
        }
        LoadGenerator load = new LoadGenerator(URI.create("http://127.0.0.1:" + port), this.properties.getLoad().toSettings());
        this.generator = load;
        Thread thread = new Thread(() -> {
            try {
                load.run();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "demo-load");
        thread.setDaemon(true);
        thread.start();
    }

    /** Context closing: stop before the web server's graceful shutdown and the drain. */
    @EventListener
    void stop(ContextClosedEvent closed) {
        LoadGenerator load = this.generator;
        if (load != null) {
            load.stop();
        }
    }
}
