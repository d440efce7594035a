package io.percpuref.spring.test;

import io.percpuref.spring.autoconfigure.PercpuRefProperties;

import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.test.context.PropertyMapping;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Adds percpu-ref to a test slice that leaves it out ({@code @WebMvcTest}, {@code @WebFluxTest},
 * {@code @DataJpaTest}, ...): the {@code RefRegistry}, {@code @Guarded} methods,
 * {@code @GuardedResource} beans, the drain at shutdown and, in a web slice, the HTTP 503 answer to
 * a refused call. The auto-configurations it imports are listed in
 * {@code META-INF/spring/io.percpuref.spring.test.AutoConfigurePercpuRef.imports}.
 *
 * <pre>{@code
 * @WebMvcTest(CatalogController.class)
 * @AutoConfigurePercpuRef
 * class CatalogControllerTests {
 *     @Autowired MockMvc mvc;
 *     @Autowired RefRegistry registry;
 *
 *     @Test
 *     void aKilledCatalogIsA503() throws Exception {
 *         registry.register("catalog", new Object(), r -> { }).kill();
 *         mvc.perform(get("/catalog/k")).andExpect(status().isServiceUnavailable());
 *     }
 * }
 * }</pre>
 *
 * A slice does not create the application's resources ({@code @GuardedResource} services,
 * resources registered at startup): a test registers the ones it calls. So, unlike the
 * application, a slice only warns about {@code @Guarded} names under which nothing is registered
 * once the context has been refreshed ({@link #unknownResource()}).
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Inherited
@ImportAutoConfiguration
@PropertyMapping("percpu-ref.guard")
public @interface AutoConfigurePercpuRef {

    /**
     * {@code percpu-ref.guard.unknown-resource} in the slice: {@code WARN} (the default here), since
     * the test registers the resources it calls, after the context has been refreshed; {@code FAIL}
     * to check the names at startup as the application does.
     */
    PercpuRefProperties.Guard.UnknownResource unknownResource() default PercpuRefProperties.Guard.UnknownResource.WARN;
}
