package io.percpuref.spring;

import org.springframework.aot.hint.ExecutableMode;
import org.springframework.aot.hint.MemberCategory;
import org.springframework.aot.hint.ReflectionHints;
import org.springframework.aot.hint.annotation.SimpleReflectiveProcessor;
import org.springframework.core.annotation.AnnotatedElementUtils;
import org.springframework.util.ReflectionUtils;
import org.springframework.util.StringUtils;

import java.lang.reflect.Method;

/**
 * The native-image reflection hints of {@link Guarded @Guarded} (its {@code @Reflective}
 * processor, used by Spring's AOT processing of every bean class): the guarded method, which the
 * AOP proxy invokes reflectively, and its fallback method, which the guard invokes reflectively
 * on a refused call. For a type-level {@code @Guarded}, the type's public methods and every
 * method of the fallback's name. Fallbacks are found by name (every overload, private and
 * inherited ones too), as the guard finds them.
 */
class GuardedReflectiveProcessor extends SimpleReflectiveProcessor {

    @Override
    protected void registerTypeHint(ReflectionHints hints, Class<?> type) {
        hints.registerType(type, MemberCategory.INVOKE_PUBLIC_METHODS);
        Guarded guarded = AnnotatedElementUtils.findMergedAnnotation(type, Guarded.class);
        if (guarded != null) {
            registerFallbacks(hints, type, guarded.fallbackMethod());
        }
    }

    @Override
    protected void registerMethodHint(ReflectionHints hints, Method method) {
        super.registerMethodHint(hints, method);
        Guarded guarded = AnnotatedElementUtils.findMergedAnnotation(method, Guarded.class);
        if (guarded != null) {
            registerFallbacks(hints, method.getDeclaringClass(), guarded.fallbackMethod());
        }
    }

    private static void registerFallbacks(ReflectionHints hints, Class<?> type, String fallbackMethod) {
        if (!StringUtils.hasText(fallbackMethod)) {
            return;
        }
        ReflectionUtils.doWithMethods(type, fallback -> hints.registerMethod(fallback, ExecutableMode.INVOKE),
                candidate -> candidate.getName().equals(fallbackMethod) && !candidate.isBridge());
    }
}
