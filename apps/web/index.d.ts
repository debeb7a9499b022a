/** The folder the API serves at `/`: the console as built by `vite build` (apps/web/dist). */
export declare const webRoot: string;
