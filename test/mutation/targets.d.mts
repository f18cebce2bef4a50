export declare const targets: Record<string, { file: string; test: string }>;
