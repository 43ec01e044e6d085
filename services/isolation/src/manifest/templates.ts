/** The values a manifest template may use; `${resource.NAME}` and `${image.X}` come from maps. */
export interface TemplateValues {
  readonly guest: string;
  readonly guestName: string;
  readonly host: string;
  readonly prefix: string;
  readonly native: string;
  readonly consoleSubject: string;
  readonly resources: Readonly<Record<string, string>>;
  readonly image: { readonly kernel: string; readonly initrd: string } | null;
  /** The userfaultfd preload shim library, where the service has one. */
  readonly uffdShim: string | null;
}

const PLACEHOLDER = /\$\{([^}]*)\}/g;

/** Every placeholder name a template uses (without `${}`), for validation before any value exists. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
}

/** Why a placeholder is unknown, or null when the manifest may use it. */
export function placeholderProblem(name: string, resourceNames: ReadonlySet<string>): string | null {
  if (['guest', 'guest.name', 'host', 'prefix', 'native', 'subject.console', 'image.kernel', 'image.initrd', 'uffd.shim'].includes(name))
    return null;
  if (name.startsWith('resource.')) {
    const resource = name.slice('resource.'.length);
    return resourceNames.has(resource) ? null : `names unknown resource "${resource}"`;
  }
  return `unknown placeholder \${${name}}`;
}

/** Fills a template; the manifest was validated, so an unknown name here is a programming error. */
export function expand(template: string, values: TemplateValues): string {
  return template.replace(PLACEHOLDER, (_all, name: string) => {
    const value = lookup(name, values);
    if (value === undefined) throw new Error(`template value \${${name}} is not available`);
    return value;
  });
}

function lookup(name: string, v: TemplateValues): string | undefined {
  switch (name) {
    case 'guest':
      return v.guest;
    case 'guest.name':
      return v.guestName;
    case 'host':
      return v.host;
    case 'prefix':
      return v.prefix;
    case 'native':
      return v.native;
    case 'subject.console':
      return v.consoleSubject;
    case 'image.kernel':
      return v.image?.kernel;
    case 'image.initrd':
      return v.image?.initrd;
    case 'uffd.shim':
      return v.uffdShim ?? undefined;
    default:
      return name.startsWith('resource.') ? v.resources[name.slice('resource.'.length)] : undefined;
  }
}
