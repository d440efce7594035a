package io.percpuref.spring;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.autoconfigure.PercpuRefAutoConfiguration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.event.EventListener;
import org.springframework.scheduling.annotation.EnableScheduling;
import org.springframework.scheduling.annotation.Scheduled;

import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Refused calls of void methods that the container invokes ({@code @Scheduled},
 * {@code @EventListener}): skipped quietly and counted, not an error per tick.
 */
@ExtendWith(OutputCaptureExtension.class)
class ContainerInvokedMethodsTests {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class))
            .withUserConfiguration(GuardedMethodsTests.Resources.class);

    @Test
    void refusedScheduledTickIsSkippedQuietlyAndCounted(CapturedOutput output) {
        this.runner.withUserConfiguration(Ticking.class).run(context -> {
            Ticker ticker = context.getBean(Ticker.class);
            RefRegistry registry = context.getBean(RefRegistry.class);
            await().until(() -> ticker.ticks() > 0);
            GuardedMethodsTests.db(context).kill();
            long rejected = registry.rejectionCount();
            await().until(() -> registry.rejectionCount() >= rejected + 5);
            assertThat(output).doesNotContain("ResourceUnavailableException").doesNotContain("ERROR");
        });
    }

    @Test
    void refusedEventListenerIsSkippedQuietly() {
        this.runner.withUserConfiguration(Listening.class).run(context -> {
            Listener listener = context.getBean(Listener.class);
            context.publishEvent(new Ping());
            assertThat(listener.heard()).isEqualTo(1);
            GuardedMethodsTests.db(context).kill();
            context.publishEvent(new Ping());
            assertThat(listener.heard()).isEqualTo(1);
        });
    }

    @Test
    void explicitFailModeStillThrowsForAContainerInvokedMethod() {
        this.runner.withUserConfiguration(Listening.class).run(context -> {
            GuardedMethodsTests.db(context).kill();
            assertThatThrownBy(() -> context.publishEvent(new Loud())).isInstanceOf(ResourceUnavailableException.class);
        });
    }

    @Test
    void skipOnAMethodThatReturnsAValueFailsAtStartup() {
        this.runner.withUserConfiguration(SkipWithValue.class).run(context -> assertThat(context).hasFailed()
                .getFailure().rootCause().hasMessageContaining("SkipWithValueService.value()")
                .hasMessageContaining("SKIP"));
    }

    @Configuration(proxyBeanMethods = false)
    @EnableScheduling
    @Import(Ticker.class)
    static class Ticking {
    }

    public static class Ticker {
        private final AtomicInteger ticks = new AtomicInteger();

        public int ticks() {
            return this.ticks.get();
        }

        @Scheduled(fixedDelay = 20)
        @Guarded("db")
        public void tick() {
            this.ticks.incrementAndGet();
        }
    }

    record Ping() {
    }

    record Loud() {
    }

    @Configuration(proxyBeanMethods = false)
    @Import(Listener.class)
    static class Listening {
    }

    public static class Listener {
        private final AtomicInteger heard = new AtomicInteger();

        public int heard() {
            return this.heard.get();
        }

        @EventListener
        @Guarded("db")
        public void on(Ping ping) {
            this.heard.incrementAndGet();
        }

        @EventListener
        @Guarded(value = "db", refusal = Guarded.Refusal.FAIL)
        public void on(Loud loud) {
            this.heard.incrementAndGet();
        }
    }

    @Configuration(proxyBeanMethods = false)
    @Import(SkipWithValueService.class)
    static class SkipWithValue {
    }

    public static class SkipWithValueService {
        @Guarded(value = "db", refusal = Guarded.Refusal.SKIP)
        public String value() {
            return "v";
        }
    }
}
