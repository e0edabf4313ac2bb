/* Cochlear-implant simulation: a noise- or sine-carrier channel vocoder (Shannon et al. 1995).
 * Filters, carrier frequencies and the channel-interaction matrix are designed in Python
 * (audiolab/hearing/_ci.py); the per-sample work runs here. */

enum { AL_CI_CHUNK = 128, AL_CI_MAX_BANDS = 64, AL_CI_NOISE = 0, AL_CI_SINE = 1 };

typedef struct {
    int32_t n_channels;            /* signal channels the state was allocated for */
    int32_t n_bands;               /* vocoder channels (simulated electrodes), 1..AL_CI_MAX_BANDS */
    int32_t carrier;               /* AL_CI_NOISE or AL_CI_SINE */
    int32_t n_analysis_sections;   /* biquads per analysis band-pass */
    int32_t n_envelope_sections;   /* biquads of the envelope low-pass (shared by all bands) */
    int32_t n_synthesis_sections;  /* biquads per synthesis band-pass (noise carriers) */
    uint64_t seed;                 /* noise carriers: key of the counter-based generator */
    int64_t position;              /* frames processed since rest: the noise/phase counter */
    double envelope_gain;          /* rectified-mean to RMS factor */
    const double *analysis_sos;    /* (n_bands, n_analysis_sections, 6), a0 == 1 */
    const double *envelope_sos;    /* (n_envelope_sections, 6) */
    const double *synthesis_sos;   /* (n_bands, n_synthesis_sections, 6); unused for sine */
    const double *carrier_gain;    /* (n_bands) makes each carrier's band power 1 */
    const double *spread;          /* (n_bands, n_bands) envelope mixing, or NULL for none */
    const double *rotation;        /* (n_bands, 2) cos, sin of the sine carrier's phase step */
    double *analysis_state;        /* (n_channels, n_bands, n_analysis_sections, 2) */
    double *envelope_state;        /* (n_channels, n_bands, n_envelope_sections, 2) */
    double *synthesis_state;       /* (n_channels, n_bands, n_synthesis_sections, 2) */
    double *oscillator;            /* (n_channels, n_bands, 2) cos, sin of the carrier phase */
    double *scratch;               /* (2 * n_bands + 1, AL_CI_CHUNK) work space */
} al_ci;

/* x: planar (n_channels, n_frames) float32 sound pressure, vocoded in place; n_frames >= 0.
 * Non-finite input samples are taken as 0, so one bad sample cannot poison the state. */
al_status al_ci_process(al_ci *s, float *x, int32_t n_channels, int64_t n_frames);
