package io.percpuref.spring;

import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefListener;
import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.autoconfigure.PercpuRefAutoConfiguration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.annotation.Order;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Customizing the auto-configured registry without replacing it: {@link RefRegistryCustomizer}
 * beans on its builder, {@link RefListener} beans added to it. One test per condition.
 */
class RefRegistryCustomizationTests {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class));

    @Test
    void customizerIsAppliedToTheBuilder() {
        this.runner.withBean(RefRegistryCustomizer.class, () -> builder -> builder.name("orders"))
                .run(context -> assertThat(context.getBean(RefRegistry.class).name()).isEqualTo("orders"));
    }

    @Test
    void customizersRunAfterThePropertiesAndMayOverrideThem() {
        this.runner.withPropertyValues("percpu-ref.leak-detection=paranoid", "percpu-ref.stuck-threshold=5s")
                .withBean(RefRegistryCustomizer.class, () -> builder -> builder.leakDetection(LeakDetection.DISABLED))
                .run(context -> {
                    RefRegistry registry = context.getBean(RefRegistry.class);
                    assertThat(registry.leakDetection()).isEqualTo(LeakDetection.DISABLED);
                    assertThat(registry.stuckThreshold()).isEqualTo(Duration.ofSeconds(5));
                });
    }

    @Test
    void customizersRunInOrder() {
        this.runner.withUserConfiguration(OrderedCustomizers.class)
                .run(context -> assertThat(context.getBean(RefRegistry.class).name()).isEqualTo("last"));
    }

    @Test
    void customizersAreNotCalledWhenTheApplicationDefinesItsRegistry() {
        List<String> calls = new CopyOnWriteArrayList<>();
        this.runner.withBean(RefRegistry.class, () -> RefRegistry.builder().name("own").build())
                .withBean(RefRegistryCustomizer.class, () -> builder -> calls.add("customized"))
                .run(context -> {
                    assertThat(context.getBean(RefRegistry.class).name()).isEqualTo("own");
                    assertThat(calls).isEmpty();
                });
    }

    @Test
    void listenerBeansReceiveTheRegistrysEvents() {
        RecordingListener listener = new RecordingListener("a");
        this.runner.withBean(RefListener.class, () -> listener).run(context -> {
            RefRegistry registry = context.getBean(RefRegistry.class);
            registry.register("cache", new Object(), r -> { }).kill();
            await().untilAsserted(() -> assertThat(listener.events())
                    .containsExactly("a registered cache", "a killed cache", "a released cache"));
        });
    }

    @Test
    void listenerBeansAreAddedInOrderOnce() {
        this.runner.withUserConfiguration(OrderedListeners.class).run(context -> {
            List<String> events = context.getBean("events", List.class);
            context.getBean(RefRegistry.class).register("cache", new Object(), r -> { });
            assertThat(events).containsExactly("first registered cache", "second registered cache");
        });
    }

    @Test
    void listenerBeansAreNotAddedToARegistryTheApplicationDefines() {
        RecordingListener listener = new RecordingListener("a");
        this.runner.withBean(RefRegistry.class, () -> RefRegistry.builder().build())
                .withBean(RefListener.class, () -> listener)
                .run(context -> {
                    context.getBean(RefRegistry.class).register("cache", new Object(), r -> { });
                    assertThat(listener.events()).isEmpty();
                });
    }

    @Configuration(proxyBeanMethods = false)
    static class OrderedCustomizers {
        @Bean
        @Order(2)
        RefRegistryCustomizer last() {
            return builder -> builder.name("last");
        }

        @Bean
        @Order(1)
        RefRegistryCustomizer first() {
            return builder -> builder.name("first");
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class OrderedListeners {
        @Bean
        List<String> events() {
            return new CopyOnWriteArrayList<>();
        }

        @Bean
        @Order(2)
        RefListener second(List<String> events) {
            return new RecordingListener("second", events);
        }

        @Bean
        @Order(1)
        RefListener first(List<String> events) {
            return new RecordingListener("first", events);
        }
    }

    /** Records "<prefix> <event> <name>" for the registered, killed and released events. */
    static final class RecordingListener implements RefListener {
        private final String prefix;
        private final List<String> events;

        RecordingListener(String prefix) {
            this(prefix, new CopyOnWriteArrayList<>());
        }

        RecordingListener(String prefix, List<String> events) {
            this.prefix = prefix;
            this.events = events;
        }

        List<String> events() {
            return this.events;
        }

        @Override
        public void onRegistered(RefInfo info) {
            this.events.add(this.prefix + " registered " + info.name());
        }

        @Override
        public void onKilled(RefInfo info) {
            this.events.add(this.prefix + " killed " + info.name());
        }

        @Override
        public void onReleased(RefInfo info) {
            this.events.add(this.prefix + " released " + info.name());
        }
    }
}
