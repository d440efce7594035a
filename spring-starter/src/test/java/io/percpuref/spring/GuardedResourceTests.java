package io.percpuref.spring;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.RefState;
import io.percpuref.spring.autoconfigure.PercpuRefAutoConfiguration;
import io.percpuref.spring.lifecycle.PercpuRefLifecycle;
import jakarta.annotation.PreDestroy;
import org.junit.jupiter.api.Test;
import org.springframework.aop.support.AopUtils;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.LazyInitializationBeanFactoryPostProcessor;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Scope;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** {@code @GuardedResource}: registration, and destruction exactly once, as the release action. */
class GuardedResourceTests {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class));

    @Test
    void guardedResourcesAreCreatedEagerlyUnderLazyInitialization() {
        this.runner.withInitializer(context -> context.addBeanFactoryPostProcessor(new LazyInitializationBeanFactoryPostProcessor()))
                .withUserConfiguration(GuardedMethodsTests.Resources.class, ResourceFromABeanMethod.class)
                .run(context -> {
                    RefRegistry registry = context.getBean(RefRegistry.class);
                    assertThat(registry.find("db")).as("@GuardedResource class").isPresent();
                    assertThat(registry.find("from-method")).as("@GuardedResource @Bean method").isPresent();
                    assertThat(context.getBeanFactory().getBeanDefinition("service").isLazyInit())
                            .as("other beans stay lazy").isTrue();
                });
    }

    @Configuration(proxyBeanMethods = false)
    static class ResourceFromABeanMethod {
        @Bean
        @GuardedResource(name = "from-method")
        Object fromMethod() {
            return new Object();
        }
    }

    @Test
    void resourceIsRegisteredAtStartupAsTheExposedBean() {
        this.runner.withBean(Events.class, Events::new).withUserConfiguration(Closeables.class).run(context -> {
            ManagedResource<?> index = context.getBean(RefRegistry.class).find("index").orElseThrow();
            assertThat(index.state()).isEqualTo(RefState.LIVE);
            try (Lease<?> lease = index.acquire()) {
                assertThat(lease.resource()).isSameAs(context.getBean(Index.class));
                assertThat(AopUtils.isAopProxy(lease.resource())).isTrue();
            }
        });
    }

    @Test
    void contextCloseDestroysTheBeanOnceThroughTheRelease() {
        Events events = new Events();
        this.runner.withBean(Events.class, () -> events).withUserConfiguration(Closeables.class).run(context -> {
            assertThat(context.getBean(Index.class).search("q")).isEqualTo("hit q");
            assertThat(events.list).isEmpty();
        });
        assertThat(events.list).containsExactly("index @PreDestroy", "index close");
    }

    @Test
    void killedResourceIsDestroyedWhenItsLastLeaseClosesAndNotAgainAtContextClose() {
        Events events = new Events();
        this.runner.withBean(Events.class, () -> events).withUserConfiguration(Closeables.class).run(context -> {
            ManagedResource<?> index = context.getBean(RefRegistry.class).find("index").orElseThrow();
            Lease<?> lease = index.acquire();
            index.kill();
            assertThatThrownBy(() -> context.getBean(Index.class).search("q")).isInstanceOf(ResourceUnavailableException.class);
            assertThat(events.list).isEmpty();
            events.list.add("last lease closed");
            lease.close();
            await().until(() -> index.state() == RefState.RELEASED);
            assertThat(events.list).containsExactly("last lease closed", "index @PreDestroy", "index close");
        });
        assertThat(events.list).containsExactly("last lease closed", "index @PreDestroy", "index close");
    }

    @Test
    void disposableBeanIsDestroyedOnce() {
        Events events = new Events();
        this.runner.withBean(Events.class, () -> events).withUserConfiguration(Disposables.class)
                .run(context -> assertThat(context.getBean(RefRegistry.class).find("pool")).isPresent());
        assertThat(events.list).containsExactly("pool destroy");
    }

    @Test
    void annotationOnABeanMethodWithADestroyMethodWorksToo() {
        Events events = new Events();
        this.runner.withBean(Events.class, () -> events).withUserConfiguration(FactoryMethod.class).run(context -> {
            ManagedResource<?> channel = context.getBean(RefRegistry.class).find("channel").orElseThrow();
            channel.kill();
            await().until(() -> channel.state() == RefState.RELEASED);
            assertThat(events.list).containsExactly("channel shutdown");
        });
        assertThat(events.list).containsExactly("channel shutdown");
    }

    @Test
    void typeLevelGuardedDoesNotGuardClose() {
        Events events = new Events();
        this.runner.withBean(Events.class, () -> events).withUserConfiguration(Closeables.class).run(context -> {
            Index index = context.getBean(Index.class);
            context.getBean(RefRegistry.class).find("index").orElseThrow().kill();
            assertThatThrownBy(() -> index.search("q")).isInstanceOf(ResourceUnavailableException.class);
            assertThat(index.toString()).startsWith("Index");
        });
    }

    @Test
    void namePlaceholdersAreResolved() {
        this.runner.withPropertyValues("channel.name=chan-7").withUserConfiguration(Placeholder.class)
                .run(context -> assertThat(context.getBean(RefRegistry.class).find("chan-7")).isPresent());
    }

    @Test
    void duplicateNameFailsStartup() {
        this.runner.withBean(Events.class, Events::new).withUserConfiguration(Closeables.class, DuplicateIndex.class).run(context ->
                assertThat(context).hasFailed().getFailure().rootCause()
                        .hasMessageContaining("a resource named 'index' is already registered"));
    }

    @Test
    void prototypeIsRejected() {
        this.runner.withUserConfiguration(Prototype.class).run(context ->
                assertThatThrownBy(() -> context.getBean(Channel.class)).rootCause()
                        .hasMessageContaining("@GuardedResource bean 'channel' must be a singleton"));
    }

    @Test
    void withoutTheDrainLifecycleTheContextCloseStillKillsAndDestroysOnce() {
        Events events = new Events();
        this.runner.withBean(Events.class, () -> events).withUserConfiguration(Closeables.class, NoDrain.class)
                .run(context -> assertThat(context.getBean(Index.class).search("q")).isEqualTo("hit q"));
        assertThat(events.list).containsExactly("index @PreDestroy", "index close");
    }

    static class Events {
        final List<String> list = new CopyOnWriteArrayList<>();
    }

    @Configuration(proxyBeanMethods = false)
    static class Closeables {
        @Bean
        Index index(Events events) {
            return new Index(events);
        }
    }

    @GuardedResource(name = "index")
    @Guarded
    static class Index implements AutoCloseable {
        private final Events events;

        Index(Events events) {
            this.events = events;
        }

        public String search(String q) {
            return "hit " + q;
        }

        @PreDestroy
        public void preDestroy() {
            this.events.list.add("index @PreDestroy");
        }

        @Override
        public void close() {
            this.events.list.add("index close");
        }

        @Override
        public String toString() {
            return "Index";
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class DuplicateIndex {
        @Bean
        Index otherIndex(Events events) {
            return new Index(events);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Disposables {
        @Bean
        Pool pool(Events events) {
            return new Pool(events);
        }
    }

    @GuardedResource(name = "pool")
    static class Pool implements DisposableBean {
        private final Events events;

        Pool(Events events) {
            this.events = events;
        }

        @Override
        public void destroy() {
            this.events.list.add("pool destroy");
        }
    }

    static class Channel {
        private final Events events;

        Channel(Events events) {
            this.events = events;
        }

        void shutdown() {
            this.events.list.add("channel shutdown");
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class FactoryMethod {
        @Bean(destroyMethod = "shutdown")
        @GuardedResource(name = "channel")
        Channel channel(Events events) {
            return new Channel(events);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Placeholder {
        @Bean
        @GuardedResource(name = "${channel.name}")
        Channel channel() {
            return new Channel(new Events());
        }
    }

    /** A lifecycle that does not drain, so that only the bean factory's destruction is left. */
    @Configuration(proxyBeanMethods = false)
    static class NoDrain {
        @Bean
        PercpuRefLifecycle noDrain(RefRegistry registry) {
            return new PercpuRefLifecycle(registry, java.time.Duration.ZERO, 0) {
                @Override
                public void stop(Runnable callback) {
                    callback.run();
                }
            };
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Prototype {
        @Bean
        @Scope("prototype")
        @GuardedResource(name = "proto")
        Channel channel() {
            return new Channel(new Events());
        }
    }
}
